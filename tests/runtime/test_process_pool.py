"""CPU-bound executors in a pool of child processes."""

from __future__ import annotations

import os
from typing import Any

import pytest
from support.documents import dag, dag_task, echo_task, executor, workflow

from aether.events.assignment import TaskAssignment
from aether.runtime.engine import Engine
from aether.runtime.executors import builtin_executors
from aether.runtime.executors.base import ExecContext, ExecResult

pytestmark = pytest.mark.spec("14.3")


class PidExecutor:
    """Reports the process it ran in, after some CPU work (module level: picklable)."""

    type = "pid"

    def validate_config(self, config: Any) -> list[Any]:
        return []

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        total = sum(i * i for i in range(20_000))
        return ExecResult.outputs({"pid": os.getpid(), "total": total})


DOCUMENT = workflow(
    "cpu", dag("main", *(dag_task(f"t{i}", executor=executor("pid")) for i in range(4)), echo_task("echoed"))
)


def test_process_types_run_in_child_processes_and_others_on_threads() -> None:
    engine = Engine(
        executors={**builtin_executors(), "pid": PidExecutor()}, workers=2, process_types=["pid"], processes=2
    )
    view = engine.run(DOCUMENT, timeout=60)
    assert view["phase"] == "Succeeded"
    pids = {t["outputs"]["pid"] for t in view["tasks"] if t["taskName"].startswith("t")}
    assert os.getpid() not in pids
    assert all(
        t["outputs"]["total"] == sum(i * i for i in range(20_000)) for t in view["tasks"] if t["taskName"][0] == "t"
    )


def test_without_process_types_everything_runs_in_this_process() -> None:
    engine = Engine(executors={**builtin_executors(), "pid": PidExecutor()}, workers=2)
    view = engine.run(DOCUMENT, timeout=60)
    assert {t["outputs"]["pid"] for t in view["tasks"] if t["taskName"].startswith("t")} == {os.getpid()}
