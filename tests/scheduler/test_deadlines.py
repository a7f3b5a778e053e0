"""Task deadlines (SPEC §10.2): the timer ``task:<nodeId>:<retryCount>`` is armed at
dispatch; when it fires, the open attempt is cancelled and the node is handled as if a
result with code 4 and ``task deadline exceeded`` had arrived. That result is recorded
with ``synthetic`` set, which a worker's own code 4 never has, and ``aether history``
marks it "(deadline)".
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from aether.cli import history_cmd
from aether.events import catalog as ev
from aether.events.times import ms_to_datetime
from tests.history.history_support import Driver
from tests.scheduler.scheduler_support import T0_MS, DecidedRun, dag, task, workflow

pytestmark = pytest.mark.spec("10", "10.2", "6.6")

DEADLINE = "task deadline exceeded"


def timed_run(definition_timeout: str = "10s", **site: object) -> DecidedRun:
    """A DAG with one task ``a`` whose template has ``definition_timeout``; ``site`` adds
    fields to the call site."""
    return DecidedRun(
        workflow(
            "main", dag("main", [{"name": "a", "template": "work", **site}]), task("work", timeout=definition_timeout)
        )
    )


def test_the_deadline_timer_is_armed_at_dispatch_with_the_definition_timeout() -> None:
    run = timed_run("10s")
    timer = run.armed("task:main/a:0")
    assert (timer.purpose, timer.node_id, timer.due_ms) == ("task", "main/a", T0_MS + 10_000)
    assert run.last(ev.TaskDispatched, "main/a").deadline_ms == T0_MS + 10_000


def test_the_call_site_timeout_wins_over_the_definition() -> None:
    run = timed_run("10s", timeout="3s")
    assert run.armed("task:main/a:0").due_ms == T0_MS + 3_000


def test_a_deadline_records_a_synthetic_code_four_and_cancels_the_attempt() -> None:
    run = timed_run()
    run.start("main/a")
    run.fire("task:main/a:0")
    recorded = run.recorded("main/a")
    assert (recorded.attempt, recorded.code, recorded.phase, recorded.message) == (1, 4, "Timeout", DEADLINE)
    assert recorded.synthetic is True
    cancelled = run.last(ev.TaskCancelRequested, "main/a")
    assert (cancelled.attempt, cancelled.assignment_id) == (1, "run-1:main/a#1")
    completed = run.completed("main/a")
    assert (completed.phase, completed.message) == ("Timeout", DEADLINE)
    assert run.run.phase == "Error"


def test_a_deadline_ends_an_attempt_that_never_started() -> None:
    run = timed_run()
    run.fire("task:main/a:0")
    assert run.recorded("main/a").synthetic is True
    completed = run.completed("main/a")
    assert (completed.from_phase, completed.phase) == ("Ready", "Timeout")


def test_a_workers_own_code_four_is_not_synthetic() -> None:
    run = timed_run()
    run.finish("main/a", 4, "worker timed out")
    recorded = run.recorded("main/a")
    assert (recorded.code, recorded.phase, recorded.synthetic) == (4, "Timeout", False)


def test_a_deadline_is_retried_by_default_with_a_fresh_timer() -> None:
    run = timed_run(retry={"limit": 1})
    run.start("main/a")
    run.fire("task:main/a:0")
    assert run.recorded("main/a").synthetic is True
    assert run.last(ev.RetryScheduled, "main/a").next_attempt == 2
    fresh = run.armed("task:main/a:1")
    assert fresh.due_ms == run.now_ms + 10_000
    run.finish("main/a", 0)
    assert run.completed("main/a").phase == "Succeeded"


def test_the_late_result_of_a_timed_out_attempt_is_ignored() -> None:
    run = timed_run()
    run.start("main/a")
    run.fire("task:main/a:0")
    events = run.report("main/a", 0, "too late", attempt=1)
    assert [type(e) for e in events] == [ev.InputIgnored]
    assert run.phase("main/a") == "Timeout"


def test_the_deadline_of_an_earlier_attempt_is_stale() -> None:
    run = timed_run(retry={"limit": 1})
    run.finish("main/a", 3)
    events = run.fire("task:main/a:0")
    assert [(type(e), getattr(e, "reason", None)) for e in events] == [(ev.InputIgnored, "stale-attempt")]
    assert run.phase("main/a") == "Ready"


# --- what ``aether history`` prints -----------------------------------------------------------


def history_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    history_cmd.register(app)
    return app


def history_text(db: Path, run_id: str) -> list[str]:
    result = CliRunner().invoke(history_app(), ["history", run_id, "--db", str(db)])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_history_marks_the_deadline_result_and_only_it(tmp_path: Path) -> None:
    db = tmp_path / "aether.db"
    driver = Driver.on_sqlite(db, run_ids=["late", "slow"])
    document = workflow(
        "main",
        dag("main", [{"name": "a", "template": "work"}, {"name": "b", "template": "work", "dependencies": ["a"]}]),
        task("work", timeout="10s"),
    )

    late = driver.submit(document)
    driver.broker.fetch("w1", None, timeout=0)  # taken by a worker that never reports
    due = driver.engine.next_timer_due_ms()
    assert due is not None
    driver.clock.set(ms_to_datetime(due) + timedelta(milliseconds=1))
    assert driver.drive(late) == "Error"
    lines = history_text(db, late)
    deadline_lines = [line for line in lines if "(deadline)" in line]
    assert len(deadline_lines) == 1, lines
    assert "TaskResultRecorded main/a#1 code 4 -> Timeout (deadline): task deadline exceeded" in deadline_lines[0]

    # A worker that reports code 4 itself: the same phase, no "(deadline)".
    driver.scripted.outcomes["a"] = 4
    slow = driver.run(workflow("main", dag("main", [{"name": "a", "executor": {"type": "scripted"}}])))
    lines = history_text(db, slow)
    recorded = [line for line in lines if "TaskResultReported main/a#1" in line]
    assert len(recorded) == 1 and "code 4 -> Timeout" in recorded[0], lines
    assert not [line for line in lines if "(deadline)" in line]
