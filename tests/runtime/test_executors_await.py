"""The await executor (SPEC §14.3)."""

from __future__ import annotations

from typing import Any

import pytest

from aether.events.assignment import TaskAssignment
from aether.runtime.executors.await_exec import AwaitExecutor
from aether.runtime.executors.base import ExecContext, ExecResult

pytestmark = pytest.mark.spec("14.3")


def run(config: dict[str, Any] | None, payload: dict[str, Any] | None) -> ExecResult:
    assignment = TaskAssignment(
        id="r1:main/t#2",
        run_id="r1",
        node_id="main/t",
        attempt=2,
        retry_count=0,
        workflow_name="wf",
        namespace="default",
        task_name="t",
        template_name="",
        executor_type="await",
        executor_config=config,
        resume_payload=payload,
    )
    return AwaitExecutor().execute(assignment, ExecContext(cancelled=lambda: False))


def test_without_payload_suspends_with_the_default_message() -> None:
    assert run(None, None) == ExecResult(1, "awaiting resume")


def test_without_payload_suspends_with_the_configured_message() -> None:
    assert run({"message": "waiting for approval"}, None) == ExecResult(1, "waiting for approval")


def test_with_payload_outputs_each_key_in_order_except_the_marker() -> None:
    result = run({"message": "x"}, {"z": 1, "__resumed": True, "a": {"ok": [True]}, "n": None})
    assert result.code == 0
    assert result.message == ""
    assert [(p.name, p.value, p.has_value) for p in result.parameters] == [
        ("z", 1, True),
        ("a", {"ok": [True]}, True),
        ("n", None, True),
    ]


def test_empty_payload_is_a_resume_without_outputs() -> None:
    assert run(None, {}) == ExecResult(0, "", ())


def test_validate_config() -> None:
    assert AwaitExecutor().validate_config(None) == []
    assert AwaitExecutor().validate_config({"message": "m"}) == []
    assert [p.message for p in AwaitExecutor().validate_config({"message": 3})] == ['await: "message" must be a string']
