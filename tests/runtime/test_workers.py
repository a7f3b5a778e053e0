"""The worker pool, end to end with the local broker and real executors."""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from process_watch import alive, wait_for

import aether.expr
from aether.events.assignment import TaskAssignment, TaskResultReport, TaskStartReport
from aether.events.values import BoundParameter, SecretRef
from aether.model.problems import Problem
from aether.runtime.broker import LocalBroker
from aether.runtime.executors import builtin_executors
from aether.runtime.executors.base import ExecContext, ExecResult, ExecutorPlugin
from aether.runtime.secrets import MappingSecretProvider
from aether.runtime.workers import WorkerPool

pytestmark = pytest.mark.spec("14.1", "15")

WAIT = 30.0
Report = TaskStartReport | TaskResultReport


class Raising:
    type = "raising"

    def validate_config(self, config: Mapping[str, Any] | None) -> list[Problem]:
        return []

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        raise RuntimeError(f"executor bug in {request.node_id}")


def task(
    node: str,
    executor_type: str = "echo",
    inputs: tuple[BoundParameter, ...] = (),
    config: dict[str, Any] | None = None,
    run_id: str = "r1",
) -> TaskAssignment:
    return TaskAssignment(
        id=TaskAssignment.attempt_id(run_id, node, 1),
        run_id=run_id,
        node_id=node,
        attempt=1,
        retry_count=0,
        workflow_name="wf",
        namespace="default",
        task_name=node,
        template_name="",
        executor_type=executor_type,
        executor_config=config,
        inputs=inputs,
    )


def executors() -> dict[str, ExecutorPlugin]:
    every = builtin_executors(grace_seconds=0.5)
    every["raising"] = Raising()
    return every


class Harness:
    def __init__(self, broker: LocalBroker) -> None:
        self.broker = broker
        self.reports: list[Report] = []

    def results(self, count: int) -> dict[str, TaskResultReport]:
        """Waits for ``count`` results in all; returns them by node id."""
        give_up = time.monotonic() + WAIT
        while len(self._results()) < count and time.monotonic() < give_up:
            self.reports.extend(self.broker.take_reports(timeout=0.2))
        found = self._results()
        assert len(found) >= count, f"only {len(found)} of {count} results arrived"
        return {r.node_id: r for r in found}

    def _results(self) -> list[TaskResultReport]:
        return [r for r in self.reports if isinstance(r, TaskResultReport)]


@pytest.fixture
def harness() -> Iterator[Harness]:
    yield Harness(LocalBroker())


def start_pool(harness: Harness, **options: Any) -> WorkerPool:
    options.setdefault("size", 2)
    options.setdefault("poll_seconds", 0.1)
    pool = WorkerPool(harness.broker, executors(), **options)
    pool.start()
    return pool


def outputs(report: TaskResultReport) -> dict[str, Any]:
    return {p.name: p.value for p in report.parameters}


def test_echo_end_to_end(harness: Harness) -> None:
    pool = start_pool(harness, worker_id_prefix="box")
    try:
        for i in range(10):
            harness.broker.dispatch(task(f"t{i}", inputs=(BoundParameter("i", i, True, "int"),)))
        results = harness.results(10)
    finally:
        assert pool.stop(WAIT)
    for i in range(10):
        result = results[f"t{i}"]
        assert (result.code, result.assignment_id, result.attempt) == (0, f"r1:t{i}#1", 1)
        assert outputs(result) == {"i": i}
        assert result.worker_id in {"box-1", "box-2"}
    # Each attempt reported started, and before its result.
    order = [(type(r).__name__, r.assignment_id) for r in harness.reports]
    for i in range(10):
        assert order.index(("TaskStartReport", f"r1:t{i}#1")) < order.index(("TaskResultReport", f"r1:t{i}#1"))


def test_shell_end_to_end_with_a_secret(harness: Harness) -> None:
    secrets = MappingSecretProvider({"db": {"password": "hunter22"}})
    pool = start_pool(harness, secrets=secrets)
    try:
        inputs = (
            BoundParameter("name", "world", True),
            BoundParameter("pw", secret_key_ref=SecretRef("db", "password")),
        )
        command = 'echo "hello $AETHER_INPUT_NAME"; echo "pw=$AETHER_INPUT_PW" >&2; exit 0'
        harness.broker.dispatch(task("sh", "shell", inputs, {"command": command}))
        harness.broker.dispatch(task("bad", "shell", config={"command": "echo nope >&2; exit 5"}))
        results = harness.results(2)
    finally:
        assert pool.stop(WAIT)
    assert results["sh"].code == 0
    assert outputs(results["sh"]) == {"stdout": "hello world", "stderr": "<redacted>", "exitCode": 0}
    assert (results["bad"].code, results["bad"].message) == (2, "exit status 5: nope")


def test_executor_exceptions_and_unknown_types_do_not_kill_workers(harness: Harness) -> None:
    pool = start_pool(harness, size=1)
    try:
        harness.broker.dispatch(task("boom", "raising"))
        harness.broker.dispatch(task("what", "no-such-type"))
        harness.broker.dispatch(task("after", inputs=(BoundParameter("x", 1, True),)))
        results = harness.results(3)
    finally:
        assert pool.stop(WAIT)
    assert (results["boom"].code, results["boom"].message) == (3, "executor bug in boom")
    assert (results["what"].code, results["what"].message) == (3, "unknown executor type: no-such-type")
    assert (results["after"].code, outputs(results["after"])) == (0, {"x": 1})


def test_cancel_stops_a_running_shell_task(harness: Harness, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    pool = start_pool(harness)
    try:
        harness.broker.dispatch(task("long", "shell", config={"command": f"echo $$ > {pidfile}; exec sleep 30"}))
        assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
        pid = int(pidfile.read_text())
        harness.broker.cancel("r1:long#1")
        result = harness.results(1)["long"]
    finally:
        assert pool.stop(WAIT)
    assert (result.code, result.message) == (3, "task cancelled")
    assert wait_for(lambda: not alive(pid), 5.0)


def test_assignment_cancelled_after_fetch_is_not_started() -> None:
    class CancelledBroker:
        def __init__(self) -> None:
            self.queue = [task("a", "shell", config={"command": "exit 0"})]
            self.reports: list[Report] = []

        def fetch(
            self, worker_id: str, executor_types: Collection[str] | None, timeout: float | None
        ) -> TaskAssignment | None:
            if self.queue:
                return self.queue.pop()
            time.sleep(timeout or 0)
            return None

        def report_started(self, started: TaskStartReport) -> None:
            self.reports.append(started)

        def report_result(self, result: TaskResultReport) -> None:
            self.reports.append(result)

        def is_cancelled(self, assignment_id: str) -> bool:
            return True

    broker = CancelledBroker()
    pool = WorkerPool(broker, executors(), size=1, poll_seconds=0.05)
    pool.start()
    try:
        assert wait_for(lambda: len(broker.reports) == 1)
    finally:
        assert pool.stop(WAIT)
    (report,) = broker.reports
    assert isinstance(report, TaskResultReport)
    assert (report.code, report.message) == (3, "task cancelled before start")


def test_vars_env_for_is_asked_with_the_run_id(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_interpolate(text: str, env: Mapping[str, Any]) -> str:
        return re.sub(r"\{\{\s*([^}]+?)\s*\}\}", lambda m: str(env.get(m.group(1), m.group(0))), text)

    monkeypatch.setattr(aether.expr, "interpolate_string", fake_interpolate, raising=False)
    asked: list[str] = []

    def vars_env_for(run_id: str) -> Mapping[str, Any]:
        asked.append(run_id)
        return {"deploy.cluster": f"cluster-of-{run_id}"}

    pool = start_pool(harness, vars_env_for=vars_env_for)
    try:
        harness.broker.dispatch(task("v", "shell", config={"command": "echo {{deploy.cluster}}"}, run_id="r9"))
        result = harness.results(1)["v"]
    finally:
        assert pool.stop(WAIT)
    assert asked == ["r9"]
    assert outputs(result)["stdout"] == "cluster-of-r9"


def test_failing_vars_env_for_is_a_code_3_result(harness: Harness) -> None:
    def vars_env_for(run_id: str) -> Mapping[str, Any]:
        raise LookupError("no snapshot")

    pool = start_pool(harness, vars_env_for=vars_env_for)
    try:
        harness.broker.dispatch(task("a"))
        result = harness.results(1)["a"]
    finally:
        assert pool.stop(WAIT)
    assert (result.code, result.message) == (3, "worker failure: no snapshot")


def test_now_is_the_pools_clock(harness: Harness) -> None:
    seen: list[datetime] = []
    fixed = datetime(2026, 3, 1, 10, 0, 0).astimezone()

    class Clocked(Raising):
        type = "clocked"

        def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
            seen.append(ctx.now())
            return ExecResult()

    pool = WorkerPool(harness.broker, {"clocked": Clocked()}, size=1, now=lambda: fixed, poll_seconds=0.1)
    pool.start()
    try:
        harness.broker.dispatch(task("c", "clocked"))
        harness.results(1)
    finally:
        assert pool.stop(WAIT)
    assert seen == [fixed]


def test_executor_types_limit_what_the_pool_fetches(harness: Harness) -> None:
    pool = start_pool(harness, executor_types=["echo"])
    try:
        harness.broker.dispatch(task("sh", "shell", config={"command": "true"}))
        harness.broker.dispatch(task("e"))
        results = harness.results(1)
        assert list(results) == ["e"]
        assert harness.broker.pending_count() == 1
    finally:
        assert pool.stop(WAIT)


def test_stop_and_close(harness: Harness) -> None:
    pool = start_pool(harness, size=3, poll_seconds=WAIT)
    with pytest.raises(RuntimeError):
        pool.start()
    # Workers are blocked in fetch with a long poll; closing the broker frees them at once.
    started_at = time.monotonic()
    harness.broker.close()
    assert pool.stop(WAIT)
    assert time.monotonic() - started_at < WAIT / 2


def test_pool_needs_a_thread(harness: Harness) -> None:
    with pytest.raises(ValueError):
        WorkerPool(harness.broker, executors(), size=0)
