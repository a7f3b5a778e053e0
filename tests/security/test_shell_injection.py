"""Parameters interpolated into a shell command or a script run as code (issue 14): the
warning that says so and names the safe form, the environment variables that are the safe
form, and ``config.quote`` (SPEC §3.3.5, §4.7, §14.3)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from support.assignments import make_assignment

from aether.events.assignment import TaskAssignment
from aether.events.values import BoundParameter
from aether.expr import check_expression
from aether.model import LoadResult, load_document, load_file
from aether.runtime.executors import builtin_executors, config_checks
from aether.runtime.executors.base import ExecResult
from aether.runtime.worker import run_assignment

pytestmark = pytest.mark.spec("3.3.5", "4.7", "14.3")

ROOT = Path(__file__).resolve().parents[2]
MARK = "pwned"

# Each payload runs `touch pwned` in the task's working directory when it is substituted
# into the command next to it: breaking out of double quotes, command substitution in both
# of its spellings, and a newline, which ends the command outside quotes.
INJECTIONS = [
    pytest.param('x"; touch pwned; echo "', 'echo "hello, {{inputs.parameters.who}}"', id="quote-breakout"),
    pytest.param("$(touch pwned)", 'echo "hello, {{inputs.parameters.who}}"', id="dollar-paren"),
    pytest.param("`touch pwned`", 'echo "hello, {{inputs.parameters.who}}"', id="backticks"),
    pytest.param("x\ntouch pwned", "echo hello, {{inputs.parameters.who}}", id="newline"),
]
PAYLOADS = [
    'x"; touch pwned; echo "',
    "$(touch pwned)",
    "`touch pwned`",
    "x\ntouch pwned",
    "x'; touch pwned; echo '",
    "a b  c * ? ~ ; | & > < \\ ' \"",
]
# With quote: true a placeholder stands where the shell reads a word: outside quotes.
COMMANDS = ['echo "hello, "{{inputs.parameters.who}}', "echo hello, {{inputs.parameters.who}}"]
# Where a quoted value is not one word, so quote: true refuses the task.
UNQUOTABLE = [
    pytest.param('echo "hello, {{inputs.parameters.who}}"', "inside quotes", id="double-quotes"),
    pytest.param("echo 'hello, {{inputs.parameters.who}}'", "inside quotes", id="single-quotes"),
    pytest.param('echo "$(echo " {{inputs.parameters.who}} ")"', "inside quotes", id="nested-quotes"),
    pytest.param("echo hi # {{inputs.parameters.who}}", "inside a comment", id="comment"),
    pytest.param("cat <<EOF\n{{inputs.parameters.who}}\nEOF", "here-document", id="heredoc"),
    pytest.param("echo `echo {{inputs.parameters.who}}`", "inside backticks", id="backticks"),
    pytest.param("echo ${X:-{{inputs.parameters.who}}}", "inside ${...}", id="parameter-expansion"),
    pytest.param("echo $(( {{inputs.parameters.who}} ))", "$((...))", id="arithmetic"),
]


def assignment(executor_type: str, config: dict[str, Any], who: str) -> TaskAssignment:
    return make_assignment(executor_type, config, BoundParameter("who", who, True))


def execute(executor_type: str, config: dict[str, Any], who: str) -> ExecResult:
    return run_assignment(assignment(executor_type, config, who), builtin_executors())


def stdout(result: ExecResult) -> Any:
    return next(p.value for p in result.parameters if p.name == "stdout")


# --- the finding: plain interpolation runs the payload --------------------------------


@pytest.mark.parametrize(("payload", "command"), INJECTIONS)
def test_plain_interpolation_runs_the_payload(tmp_path: Path, payload: str, command: str) -> None:
    # The reason for W-SHELL-INTERPOLATION: the value's text becomes part of the command.
    result = execute("shell", {"command": command, "workingDir": str(tmp_path)}, payload)
    assert result.code == 0, result.message
    assert (tmp_path / MARK).exists()


@pytest.mark.parametrize(("payload", "command"), INJECTIONS)
def test_plain_interpolation_into_a_shell_script_runs_the_payload(tmp_path: Path, payload: str, command: str) -> None:
    config = {"runtime": "sh", "source": command, "workingDir": str(tmp_path)}
    result = execute("script", config, payload)
    assert result.code == 0, result.message
    assert (tmp_path / MARK).exists()


# --- quote: true --------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_quote_passes_the_value_as_one_word(tmp_path: Path, payload: str, command: str) -> None:
    config = {"command": command, "quote": True, "workingDir": str(tmp_path)}
    result = execute("shell", config, payload)
    assert result.code == 0, result.message
    assert not (tmp_path / MARK).exists()
    assert stdout(result) == f"hello, {payload}"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_quote_protects_a_shell_script_source(tmp_path: Path, payload: str) -> None:
    config = {
        "runtime": "bash",
        "source": 'printf "%s|" {{inputs.parameters.who}}',
        "quote": True,
        "workingDir": str(tmp_path),
    }
    result = execute("script", config, payload)
    assert result.code == 0, result.message
    assert not (tmp_path / MARK).exists()
    assert stdout(result) == f"{payload}|"


@pytest.mark.parametrize(("command", "why"), UNQUOTABLE)
@pytest.mark.parametrize("payload", PAYLOADS[:4])
def test_quote_refuses_a_placeholder_where_quoting_cannot_protect_it(
    tmp_path: Path, command: str, why: str, payload: str
) -> None:
    result = execute("shell", {"command": command, "quote": True, "workingDir": str(tmp_path)}, payload)
    assert result.code == 3
    assert why in result.message
    assert "with quote: true, {{inputs.parameters.who}} stands" in result.message
    assert not (tmp_path / MARK).exists()


@pytest.mark.parametrize(("command", "why"), UNQUOTABLE)
def test_validate_reports_a_placeholder_that_quote_cannot_protect(command: str, why: str) -> None:
    config = repr({"quote": True, "command": command}).replace("True", "true")
    [(path, message)] = warnings_of(load(inline(f"{{type: shell, config: {config}}}")))
    assert path.endswith(".config.command")
    assert why in message and "write it outside quotes" in message


def test_quote_leaves_other_fields_and_array_elements_alone(tmp_path: Path) -> None:
    # env values and array arguments are not shell text: quoting them would add quotes.
    config = {
        "command": ["sh", "-c", 'printf "%s|%s" "$GREETING" "$1"', "sh", "{{inputs.parameters.who}}"],
        "env": {"GREETING": "hi {{inputs.parameters.who}}"},
        "quote": True,
        "workingDir": str(tmp_path),
    }
    result = execute("shell", config, "a b")
    assert result.code == 0, result.message
    assert stdout(result) == "hi a b|a b"


def test_quote_keeps_an_unresolved_placeholder_as_written() -> None:
    result = execute("shell", {"command": "echo '{{missing.key}}' {{inputs.parameters.who}}", "quote": True}, "x y")
    assert stdout(result) == "{{missing.key}} x y"


def test_quote_renders_non_string_values_before_quoting() -> None:
    result = run_assignment(
        make_assignment(
            "shell",
            {"command": "printf '%s|' {{inputs.parameters.xs}}", "quote": True},
            BoundParameter("xs", ["a", 1, True], True),
        ),
        builtin_executors(),
    )
    assert stdout(result) == "[a 1 true]|"


@pytest.mark.parametrize("executor_type", ["shell", "script"])
def test_quote_must_be_a_boolean(executor_type: str) -> None:
    config: dict[str, Any] = {"command": "true", "runtime": "sh", "source": "true", "quote": "yes"}
    problems = builtin_executors()[executor_type].validate_config(config)
    assert [p.message for p in problems] == [f'{executor_type}: "quote" must be true or false']


# --- the safe form: the environment variable ----------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_environment_variable_never_runs_the_value(tmp_path: Path, payload: str) -> None:
    for command in ('echo "hello, $AETHER_INPUT_WHO"', 'printf "hello, %s" "$AETHER_INPUT_WHO"'):
        result = execute("shell", {"command": command, "workingDir": str(tmp_path)}, payload)
        assert result.code == 0, result.message
        assert stdout(result) == f"hello, {payload}"
    script = {"runtime": "bash", "source": 'echo "hello, $AETHER_INPUT_WHO"', "workingDir": str(tmp_path)}
    assert stdout(execute("script", script, payload)) == f"hello, {payload}"
    assert not (tmp_path / MARK).exists()


# --- W-SHELL-INTERPOLATION ----------------------------------------------------------


def load(doc: str) -> LoadResult:
    return load_document(doc, executor_checks=config_checks(builtin_executors()), expression_check=check_expression)


def inline(executor: str) -> str:
    """A workflow whose one DAG task runs ``executor`` (a YAML flow mapping)."""
    return f"""
apiVersion: aether/v1
kind: Workflow
metadata: {{name: w}}
spec:
  entrypoint: main
  arguments: {{parameters: [{{name: who, value: world}}]}}
  templates:
    - dag:
        name: main
        tasks:
          - name: t
            inputs: {{parameters: [{{name: who, valueFrom: {{parameter: workflow.parameters.who}}}}]}}
            executor: {executor}
"""


def warnings_of(result: LoadResult) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in result.problems if p.code == "W-SHELL-INTERPOLATION"]


def test_a_parameter_in_a_shell_command_is_reported_with_the_safe_form() -> None:
    result = load(inline("""{type: shell, config: {command: 'echo "hello, {{inputs.parameters.who}}"'}}"""))
    assert warnings_of(result) == [
        (
            "$.spec.templates[0].dag.tasks[0].executor.config.command",
            'executor "shell": {{inputs.parameters.who}} in "command" is substituted into the command, where its '
            'value runs as code; read "$AETHER_INPUT_WHO" instead, or set quote: true',
        )
    ]
    assert result.ok  # a warning: the document still runs


@pytest.mark.parametrize(
    "key",
    [
        "workflow.parameters.who",
        "workflow.arguments.parameters.who",
        "tasks.a.outputs.parameters.stdout",
        "item",
        "loop_iter.item",
        "inputs.parameters.who.field",
    ],
)
def test_every_parameter_output_or_item_is_reported(key: str) -> None:
    result = load(inline(f"{{type: shell, config: {{command: 'echo {{{{{key}}}}}'}}}}"))
    assert len(warnings_of(result)) == 1, result.problems
    assert "{{" + key + "}}" in warnings_of(result)[0][1]


def test_a_name_with_a_hyphen_gets_its_variable_name() -> None:
    result = load(inline("{type: shell, config: {command: 'echo {{ inputs.parameters.batch-size }}'}}"))
    assert '"$AETHER_INPUT_BATCH_SIZE"' in warnings_of(result)[0][1]


def test_a_value_that_is_not_an_input_names_how_to_make_it_one() -> None:
    result = load(inline("{type: shell, config: {command: 'echo {{workflow.parameters.who}}'}}"))
    assert 'bind it to an input parameter and read "$AETHER_INPUT_<NAME>" instead' in warnings_of(result)[0][1]


@pytest.mark.parametrize(
    "executor",
    [
        """{type: shell, config: {command: 'echo "hello, $AETHER_INPUT_WHO"'}}""",
        "{type: shell, config: {command: 'echo {{workflow.name}} {{workflow.namespace}} {{workflow.runId}}'}}",
        "{type: shell, config: {command: 'echo {{system.os}}-{{system.arch}}'}}",
        "{type: shell, config: {command: [echo, '{{inputs.parameters.who}}']}}",
        "{type: shell, config: {command: 'echo \"$X\"', env: {X: '{{inputs.parameters.who}}'}}}",
        "{type: script, config: {runtime: bash, quote: true, source: 'echo {{inputs.parameters.who}}'}}",
        """{type: shell, config: {quote: true, command: 'echo "hello, "{{inputs.parameters.who}}'}}""",
        "{type: http, config: {url: 'https://example.com/{{inputs.parameters.who}}'}}",
    ],
)
def test_safe_forms_are_not_reported(executor: str) -> None:
    result = load(inline(executor))
    assert warnings_of(result) == [], result.problems


@pytest.mark.parametrize(
    ("executor", "field", "quote_protects"),
    [
        ("{type: shell, config: {command: [sh, -c, 'echo {{inputs.parameters.who}}']}}", "command[2]", False),
        ("{type: script, config: {runtime: bash, source: 'echo {{inputs.parameters.who}}'}}", "source", True),
        ("{type: script, config: {runtime: python3, source: 'print({{inputs.parameters.who}})'}}", "source", False),
        (
            "{type: script, config: {runtime: python3, quote: true, source: 'print({{inputs.parameters.who}})'}}",
            "source",
            False,
        ),
        ("{type: script, config: {runtime: 'python3 {{inputs.parameters.who}}', source: 'pass'}}", "runtime", True),
    ],
)
def test_program_texts_are_reported(executor: str, field: str, quote_protects: bool) -> None:
    [(path, message)] = warnings_of(load(inline(executor)))
    assert path == f"$.spec.templates[0].dag.tasks[0].executor.config.{field}"
    assert message.endswith("or set quote: true") is quote_protects


def test_a_task_template_is_checked_like_an_inline_executor() -> None:
    doc = """
apiVersion: aether/v1
kind: Workflow
metadata: {name: w}
spec:
  entrypoint: say
  templates:
    - task:
        name: say
        inputs: {parameters: [{name: who, value: x}]}
        executor: {type: shell, config: {command: 'echo {{inputs.parameters.who}}'}}
"""
    assert [path for path, _ in warnings_of(load(doc))] == ["$.spec.templates[0].task.executor.config.command"]


# --- the documentation's examples use the safe form ----------------------------------


def readme_workflows() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [block for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL) if "kind: Workflow" in block]


def test_the_readme_examples_validate_without_the_warning() -> None:
    blocks = readme_workflows()
    assert blocks, "README.md has a workflow example"
    for block in blocks:
        result = load(block)
        assert result.ok, result.problems
        assert warnings_of(result) == []


def test_the_shipped_examples_validate_without_the_warning() -> None:
    files = sorted((ROOT / "examples").glob("*.yaml"))
    assert files
    for path in files:
        result = load_file(path, executor_checks=config_checks(builtin_executors()), expression_check=check_expression)
        assert result.ok, result.problems
        assert warnings_of(result) == [], path
