"""The echo executor: SPEC §14.2, the reference contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aether.events.assignment import TaskAssignment
from aether.events.values import BoundParameter, ResultParameter
from aether.runtime.executors.base import ExecContext, ExecResult
from aether.runtime.executors.echo import EchoExecutor

pytestmark = pytest.mark.spec("14.2")

NO_VALUE = object()


def param(name: str, value: Any = NO_VALUE, type: str | None = None) -> BoundParameter:
    if value is NO_VALUE:
        return BoundParameter(name, None, False, type)
    return BoundParameter(name, value, True, type)


def run(*inputs: BoundParameter, retry_count: int = 0, ctx: ExecContext | None = None) -> ExecResult:
    assignment = TaskAssignment(
        id="r1:main/t#1",
        run_id="r1",
        node_id="main/t",
        attempt=1,
        retry_count=retry_count,
        workflow_name="wf",
        namespace="default",
        task_name="t",
        template_name="",
        executor_type="echo",
        executor_config={"ignored": True},
        inputs=tuple(inputs),
    )
    return EchoExecutor().execute(assignment, ctx or ExecContext(cancelled=lambda: False))


def wire(result: ExecResult) -> list[dict[str, Any]]:
    return [p.to_wire() for p in result.parameters]


def test_echoes_non_control_inputs_in_input_order_with_types() -> None:
    result = run(param("b", 2, "int"), param("a", "x"), param("c", [1, {"k": None}], "array"))
    assert result.code == 0
    assert result.message == ""
    assert wire(result) == [
        {"name": "b", "type": "int", "value": 2},
        {"name": "a", "value": "x"},
        {"name": "c", "type": "array", "value": [1, {"k": None}]},
    ]


def test_input_without_value_is_echoed_without_value() -> None:
    result = run(param("empty", type="string"), param("null", None))
    assert result.parameters == (
        ResultParameter("empty", None, False, "string"),
        ResultParameter("null", None, True, None),
    )


def test_control_inputs_are_never_echoed() -> None:
    result = run(
        param("__resumed", False),
        param("suspend", False),
        param("fail-count", 0),
        param("outputs", []),
        param("kept", 1),
    )
    assert result.code == 0
    assert wire(result) == [{"name": "kept", "value": 1}]


def test_suspend_true_suspends() -> None:
    result = run(param("suspend", True), param("x", 1), param("outputs", [{"name": "o", "type": "int"}]))
    assert result == ExecResult(1, "suspended; awaiting external resume signal", ())


@pytest.mark.parametrize("value", ["true", 1, "yes", None, [True]])
def test_suspend_other_than_json_true_is_false(value: Any) -> None:
    assert run(param("suspend", value)).code == 0


@pytest.mark.parametrize("marker", [True, False, None, "anything"])
def test_resumed_marker_with_any_value_lifts_suspend(marker: Any) -> None:
    result = run(param("suspend", True), param("__resumed", marker), param("x", 1))
    assert result.code == 0
    assert wire(result) == [{"name": "x", "value": 1}]


def test_suspend_gate_comes_before_fail_count() -> None:
    result = run(param("fail-count", 3), param("suspend", True))
    assert result.code == 1


@pytest.mark.parametrize(
    ("retry_count", "code", "message"),
    [
        (0, 2, "simulated failure on attempt 1 (failCount=2)"),
        (1, 2, "simulated failure on attempt 2 (failCount=2)"),
        (2, 0, ""),
        (5, 0, ""),
    ],
)
def test_fail_count_fails_the_first_attempts(retry_count: int, code: int, message: str) -> None:
    result = run(param("fail-count", 2), param("x", "v"), retry_count=retry_count)
    assert (result.code, result.message) == (code, message)
    assert result.parameters == (() if code else (ResultParameter("x", "v", True, None),))


@pytest.mark.parametrize("value", [2.0, "2", True, None, [2], -1, 0])
def test_fail_count_must_be_a_positive_json_integer(value: Any) -> None:
    assert run(param("fail-count", value)).code == 0


def test_declared_outputs_are_appended_with_value_or_zero_value() -> None:
    declarations = [
        {"name": "i", "type": "int"},
        {"name": "b", "type": "bool"},
        {"name": "s", "type": "string"},
        {"name": "a", "type": "array"},
        {"name": "o", "type": "object"},
        {"name": "given", "type": "int", "value": 7},
    ]
    result = run(param("in", 1), param("outputs", declarations))
    assert wire(result) == [
        {"name": "in", "value": 1},
        {"name": "i", "type": "int", "value": 0},
        {"name": "b", "type": "bool", "value": False},
        {"name": "s", "type": "string", "value": ""},
        {"name": "a", "type": "array", "value": []},
        {"name": "o", "type": "object", "value": {}},
        {"name": "given", "type": "int", "value": 7},
    ]


@pytest.mark.parametrize("declared", ["float", "number", "", None, 5, "INT"])
def test_unknown_declared_type_counts_as_string(declared: Any) -> None:
    declaration: dict[str, Any] = {"name": "o"}
    if declared is not None:
        declaration["type"] = declared
    result = run(param("outputs", [declaration]))
    assert wire(result) == [{"name": "o", "type": "string", "value": ""}]


def test_declaration_matching_an_input_retypes_it_and_keeps_its_value_without_a_value() -> None:
    result = run(param("x", "5", "string"), param("outputs", [{"name": "x", "type": "int"}]))
    assert wire(result) == [{"name": "x", "type": "int", "value": "5"}]


def test_declaration_matching_an_input_replaces_the_value_when_it_has_one() -> None:
    result = run(
        param("x", "old", "string"),
        param("y", 1),
        param("outputs", [{"name": "x", "type": "object", "value": {"new": True}}]),
    )
    assert wire(result) == [
        {"name": "x", "type": "object", "value": {"new": True}},
        {"name": "y", "value": 1},
    ]


def test_declaration_with_null_value_has_no_value() -> None:
    result = run(
        param("x", "kept"),
        param(
            "outputs",
            [{"name": "x", "type": "string", "value": None}, {"name": "n", "type": "int", "value": None}],
        ),
    )
    assert wire(result) == [
        {"name": "x", "type": "string", "value": "kept"},
        {"name": "n", "type": "int", "value": 0},
    ]


def test_value_of_the_wrong_kind_is_used_as_is() -> None:
    result = run(param("outputs", [{"name": "n", "type": "int", "value": "not a number"}]))
    assert wire(result) == [{"name": "n", "type": "int", "value": "not a number"}]


def test_malformed_declarations_are_skipped() -> None:
    declarations = ["o", 3, None, {"name": ""}, {"type": "int"}, {"name": 4}, {"name": "ok", "type": "bool"}]
    result = run(param("outputs", declarations))
    assert wire(result) == [{"name": "ok", "type": "bool", "value": False}]


@pytest.mark.parametrize("value", [{"name": "o"}, "[]", 1, None])
def test_outputs_other_than_an_array_declare_nothing(value: Any) -> None:
    result = run(param("a", 1), param("outputs", value))
    assert wire(result) == [{"name": "a", "value": 1}]


def test_later_declaration_of_the_same_name_updates_the_appended_parameter() -> None:
    declarations = [{"name": "o", "type": "int", "value": 1}, {"name": "o", "type": "string"}]
    result = run(param("outputs", declarations))
    assert wire(result) == [{"name": "o", "type": "string", "value": 1}]


def test_zero_values_are_not_shared_between_results() -> None:
    first = run(param("outputs", [{"name": "a", "type": "array"}]))
    first.parameters[0].value.append("mutated")
    second = run(param("outputs", [{"name": "a", "type": "array"}]))
    assert second.parameters[0].value == []


def test_ignores_cancellation_and_deadlines() -> None:
    past = datetime(2020, 1, 1, tzinfo=UTC)
    ctx = ExecContext(cancelled=lambda: True, deadline=past, now=lambda: past + timedelta(days=1))
    result = run(param("x", 1), ctx=ctx)
    assert result.code == 0
    assert wire(result) == [{"name": "x", "value": 1}]


def test_validate_config_accepts_anything() -> None:
    assert EchoExecutor().validate_config({"whatever": [1]}) == []
    assert EchoExecutor().validate_config(None) == []
