"""The assignment an executor test hands its executor: one task of one run, attempt 1."""

from __future__ import annotations

from typing import Any

from aether.events.assignment import TaskAssignment
from aether.events.values import BoundParameter


def make_assignment(executor_type: str, config: dict[str, Any] | None, *inputs: BoundParameter) -> TaskAssignment:
    return TaskAssignment(
        id="r1:main/t#1",
        run_id="r1",
        node_id="main/t",
        attempt=1,
        retry_count=0,
        workflow_name="wf",
        namespace="default",
        task_name="t",
        template_name="",
        executor_type=executor_type,
        executor_config=config,
        inputs=tuple(inputs),
    )
