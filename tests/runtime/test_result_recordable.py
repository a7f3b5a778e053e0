"""A task's result that the log could not store ends its attempt with code 3 and a
message naming the output, the path in its value and the rule or limit (SPEC §14.1,
§3.2), where the worker builds the result: a shell task writing such values to
``$AETHER_OUTPUTS`` never hands the engine an event it cannot encode."""

from __future__ import annotations

from typing import Any

import pytest

from aether.events.assignment import TaskAssignment
from aether.events.values import ResultParameter
from aether.runtime.executors.base import CODE_ERROR, ExecResult
from aether.runtime.executors.shell import ShellExecutor
from aether.runtime.worker import run_assignment

pytestmark = pytest.mark.spec("3.2", "14.1", "14.3")


def assignment(executor_type: str, config: dict[str, Any] | None = None) -> TaskAssignment:
    return TaskAssignment(
        id="r:main#1",
        run_id="r",
        node_id="main",
        attempt=1,
        retry_count=0,
        workflow_name="w",
        namespace="default",
        task_name="main",
        template_name="",
        executor_type=executor_type,
        executor_config=config,
    )


def shell_writing(outputs_json: str) -> ExecResult:
    command = f"printf '%s' '{outputs_json}' > \"$AETHER_OUTPUTS\""
    return run_assignment(assignment("shell", {"command": command}), {"shell": ShellExecutor()})


@pytest.mark.parametrize(
    ("outputs_json", "expected"),
    [
        ('{"x": 100000000000000000000000000000}', 'output "x" at $: integer'),
        ('{"x": {"y": ["\\ud800"]}}', 'output "x" at $.y[0]: string is not valid Unicode: lone surrogate U+D800'),
        ('{"\\udc00": 1}', "key"),
    ],
)
def test_hostile_outputs_fail_the_attempt_with_a_message_naming_the_path(outputs_json: str, expected: str) -> None:
    result = shell_writing(outputs_json)
    assert result.code == CODE_ERROR
    assert result.parameters == ()
    assert result.message.startswith("result cannot be stored: ")
    assert expected in result.message or (expected == "key" and "not valid Unicode" in result.message)
    result.message.encode("utf-8")  # the message itself can be stored and printed


def test_a_deep_output_names_l_value_depth() -> None:
    result = shell_writing('{"x": ' + "[" * 150 + "]" * 150 + "}")
    assert result.code == CODE_ERROR
    assert "L-VALUE-DEPTH (100 levels)" in result.message


class Hostile:
    type = "hostile"

    def __init__(self, result: ExecResult) -> None:
        self.result = result

    def validate_config(self, config: Any) -> list[Any]:
        return []

    def execute(self, request: TaskAssignment, ctx: Any) -> ExecResult:
        return self.result


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), 2**64, -(2**63) - 1, {1: "int key"}, object(), "a\udfffb"]
)
def test_any_executor_result_the_log_cannot_store_is_code_3(value: Any) -> None:
    plugin = Hostile(ExecResult(0, "ok", (ResultParameter("v", value),)))
    result = run_assignment(assignment("hostile"), {"hostile": plugin})
    assert (result.code, result.parameters) == (CODE_ERROR, ())
    assert result.message.startswith('result cannot be stored: output "v"')


def test_a_message_with_a_surrogate_is_kept_escaped_not_refused() -> None:
    plugin = Hostile(ExecResult(2, "bad \ud800 byte"))
    result = run_assignment(assignment("hostile"), {"hostile": plugin})
    assert (result.code, result.message) == (2, "bad \\ud800 byte")


def test_storable_values_at_the_codec_edges_pass_through() -> None:
    params = (ResultParameter("max", 2**64 - 1), ResultParameter("min", -(2**63)), ResultParameter("e", "é😀"))
    result = run_assignment(assignment("hostile"), {"hostile": Hostile(ExecResult(0, "ok", params))})
    assert (result.code, result.parameters) == (0, params)
