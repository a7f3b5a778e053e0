"""``aether eval``."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from aether.cli import eval_cmd

pytestmark = pytest.mark.spec("5.9")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    # A fresh application with only this command, so the test does not depend on
    # the other command modules; a callback keeps `eval` a named sub-command.
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """Test root."""

    eval_cmd.register(app)
    return app


def invoke(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["eval", *args])
    return result.exit_code, result.stdout, result.stderr


def test_prints_the_value_as_compact_json(app: typer.Typer) -> None:
    assert invoke(app, "1 + 2") == (0, "3\n", "")
    assert invoke(app, "[1, 'a', null, 2.5]") == (0, '[1,"a",null,2.5]\n', "")
    assert invoke(app, "'é'") == (0, '"é"\n', "")


def test_vars_are_flat_dotted_keys(app: typer.Typer) -> None:
    variables = json.dumps({"tasks.a.phase": "Succeeded", "inputs.parameters.n": 4})
    assert invoke(app, "tasks.a.phase == 'Succeeded' && inputs.parameters.n > 3", "--vars", variables) == (
        0,
        "true\n",
        "",
    )


def test_warnings_go_to_stderr(app: typer.Typer) -> None:
    code, out, err = invoke(app, "tasks.x.phase == 'Succeeded'")
    assert (code, out) == (0, "false\n")
    assert err == 'W-EXPR-UNRESOLVED: "tasks.x.phase" is not defined; using its text\n'


def test_condition_flag(app: typer.Typer) -> None:
    assert invoke(app, "'true'", "--condition") == (0, "true\n", "")
    code, out, err = invoke(app, "1", "--condition")
    assert (code, out) == (2, "")
    assert err.startswith("E-EXPR-NOT-BOOLEAN: ")


def test_expression_error_exits_2_with_the_spec_text(app: typer.Typer) -> None:
    code, out, err = invoke(app, "a >= 'x')")
    assert (code, out) == (2, "")
    assert err == "E-EXPR-SYNTAX at 1:9: unexpected \")\"\n  a >= 'x')\n          ^\n"
    assert "Traceback" not in err


def test_evaluation_error_exits_2(app: typer.Typer) -> None:
    assert invoke(app, "1 / 0") == (2, "", "E-EXPR-DIV-ZERO: division by zero\n")


@pytest.mark.parametrize("variables", ["{not json", "[1, 2]", "3"])
def test_bad_vars_exit_2(app: typer.Typer, variables: str) -> None:
    code, out, err = invoke(app, "1", "--vars", variables)
    assert (code, out) == (2, "")
    assert err.startswith("error: --vars ")
    assert "Traceback" not in err


def test_help(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["eval", "--help"])
    assert result.exit_code == 0
    assert "Evaluate an expression" in result.stdout
    assert "--vars" in result.stdout


def test_registered_in_the_aether_command() -> None:
    from aether.cli import main

    main._register_commands()
    result = CliRunner().invoke(main.app, ["eval", "2 * 21"])
    assert (result.exit_code, result.stdout) == (0, "42\n")


@pytest.mark.spec("5.10", "3.3.8")
def test_a_legacy_fallback_is_reported_as_validate_reports_it(app: typer.Typer) -> None:
    code, out, err = invoke(app, "tasks.a.phase == 'x' && (1 +* 2)")
    assert (code, out) == (0, "false\n")
    assert err.startswith('W-EXPR-LEGACY: expression evaluated in legacy mode: E-EXPR-SYNTAX at 1:29: unexpected "*"')


@pytest.mark.spec("5.10", "3.3.8")
def test_a_hyphenated_name_is_reported_as_validate_reports_it(app: typer.Typer) -> None:
    code, _out, err = invoke(app, "a-b == 1")
    assert code == 0
    assert err.splitlines()[0] == 'W-EXPR-HYPHEN: "a-b" is read as one name; put spaces around "-" to subtract'


@pytest.mark.parametrize(
    ("expression", "printed"), [("-5", "-5\n"), ("-x > 1", "true\n"), ("--5", "5\n"), ("-(1 + 2)", "-3\n")]
)
def test_an_expression_may_start_with_a_minus(app: typer.Typer, expression: str, printed: str) -> None:
    assert invoke(app, expression, "--vars", '{"x": -3}') == (0, printed, "")
