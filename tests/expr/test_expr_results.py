"""SPEC §5.2 and §5.9: an expression's result is a value the event log can
store. A lone surrogate, an integer beyond the codec's 64 bits or a value
nested too deeply is an expression error naming why, never a value that makes
encoding the decision event fail later (which stalled the engine loop)."""

from __future__ import annotations

import orjson
import pytest
import typer
from expr_helpers import error, value
from typer.testing import CliRunner

from aether.cli import eval_cmd
from aether.expr import evaluate
from aether.model.limits import Limits

pytestmark = pytest.mark.spec("5.2", "5.9", "3.2")


def test_a_lone_surrogate_from_an_escape_is_an_expression_error() -> None:
    """``'\\ud800'`` used to evaluate to a one-character string the codec refuses."""
    err = error("'\\ud800'")
    assert err.code == "E-EXPR-TYPE"
    assert err.message == "the result holds a string that is not valid Unicode (lone surrogate U+D800)"


@pytest.mark.parametrize("source", ["['a', '\\udc00']", "str(['\\udfff'])", "json('\\ud800')", "x"])
def test_a_lone_surrogate_anywhere_in_the_result_is_refused(source: str) -> None:
    assert error(source, {"x": {"k\udc80": 1}}).code == "E-EXPR-TYPE"


def test_a_surrogate_pair_is_one_character_and_a_value() -> None:
    assert value("'\\ud83d\\ude00'") == "😀"


def test_integers_are_judged_by_what_the_log_stores() -> None:
    assert value("x", {"x": 2**64 - 1}) == 2**64 - 1
    assert value("x", {"x": -(2**63)}) == -(2**63)
    for big in (2**64, -(2**63) - 1, 10**29):
        err = error("[x]", {"x": big})
        assert err.code == "E-EXPR-OVERFLOW"
        assert "64-bit" in err.message


def test_a_result_nested_too_deeply_is_refused_with_its_limit() -> None:
    deep: object = 1
    for _ in range(150):
        deep = [deep]
    err = error("x", {"x": deep})
    assert (err.code, err.message) == ("E-EXPR-LIMIT", "the result nests deeper than 100 levels (L-VALUE-DEPTH)")
    assert evaluate("x", {"x": deep}, Limits(value_depth=200)).value is deep


def test_a_result_too_large_for_the_log_is_refused_with_its_limit() -> None:
    # Thirty references to one string: little memory, 9 MB of JSON to store.
    err = error("[" + ", ".join(["x"] * 30) + "]", {"x": "a" * 300_000})
    assert err.code == "E-EXPR-LIMIT"
    assert err.message == "the result's compact JSON exceeds 8388608 characters (L-EXPR-VALUE)"


def test_what_the_check_accepts_the_codec_stores() -> None:
    # orjson is the event codec's writer.
    stored = {"a": [1, 2.5, None, True, "é😀", 2**64 - 1, -(2**63)]}
    assert orjson.loads(orjson.dumps(value("x", {"x": stored}))) == stored


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """Test root."""

    eval_cmd.register(app)
    return app


def test_aether_eval_of_a_lone_surrogate_gives_a_clean_error(app: typer.Typer) -> None:
    """``aether eval "'\\ud800'"`` ended in a traceback from the JSON writer."""
    result = CliRunner().invoke(app, ["eval", "'\\ud800'"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "E-EXPR-TYPE: the result holds a string that is not valid Unicode (lone surrogate U+D800)\n"
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)
