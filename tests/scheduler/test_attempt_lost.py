"""Lost attempts (SPEC §6.3): when the runtime observes that an attempt can no longer
report, the attempt is closed and the next one is dispatched with the same inputs, retry
count and deadline — a lost attempt uses no retry — and anything the lost attempt reports
afterwards is ignored. Attempt numbers are never reused."""

from __future__ import annotations

import pytest

from aether.events import catalog as ev
from aether.history.verify import verify_run
from aether.projections.history_entries import iter_history, summarize
from tests.scheduler.scheduler_support import DecidedRun, dag, task, workflow

pytestmark = pytest.mark.spec("6.3", "6.4", "6.6")


def one_task(**site: object) -> DecidedRun:
    return DecidedRun(workflow("main", dag("main", [{"name": "a", "template": "work", **site}]), task("work")))


def lose(run: DecidedRun, node_id: str, attempt: int, reason: str = "engine-stopped") -> tuple[ev.Event, ...]:
    return run.step(ev.AttemptLost(node_id, attempt, run.at, reason, "w1", "engine-1"))


def test_a_lost_running_attempt_is_replaced_by_the_next_one_without_using_a_retry() -> None:
    run = one_task(retry={"limit": 1})
    first = run.last(ev.TaskDispatched, "main/a")
    run.start("main/a")
    decided = lose(run, "main/a", 1)
    cancel, dispatched = decided
    assert cancel == ev.TaskCancelRequested(first.assignment.id, "main/a", 1)
    assert isinstance(dispatched, ev.TaskDispatched)
    assert (dispatched.attempt, dispatched.reason) == (2, "lost")
    assert dispatched.assignment.retry_count == 0, "a lost attempt uses no retry"
    assert dispatched.assignment.inputs == first.assignment.inputs
    assert run.phase("main/a") == "Ready"
    assert first.assignment.id not in run.run.open_attempts
    assert dispatched.assignment.id in run.run.open_attempts

    run.finish("main/a", code=3)  # the retry budget is still whole: attempt 3 is a retry
    retried = run.last(ev.TaskDispatched, "main/a")
    assert (retried.attempt, retried.reason, retried.assignment.retry_count) == (3, "retry", 1)


def test_a_lost_attempt_that_never_started_is_replaced_from_ready() -> None:
    run = one_task()
    decided = lose(run, "main/a", 1, "claim-expired")
    assert [type(e) for e in decided] == [ev.TaskCancelRequested, ev.TaskDispatched]
    assert run.phase("main/a") == "Ready"
    run.finish("main/a")
    assert run.phase("main/a") == "Succeeded"
    assert run.run.phase == "Succeeded"


def test_the_deadline_of_the_lost_attempt_stands() -> None:
    run = DecidedRun(workflow("main", dag("main", [{"name": "a", "template": "work"}]), task("work", timeout="10s")))
    run.start("main/a")
    run.advance(4_000)
    lose(run, "main/a", 1)
    replacement = run.last(ev.TaskDispatched, "main/a")
    assert replacement.deadline_ms == run.all(ev.TaskDispatched, "main/a")[0].deadline_ms
    assert [e.timer_id for e in run.all(ev.TimerArmed, "main/a")] == ["task:main/a:0"], "no new deadline"
    run.fire("task:main/a:0")
    assert run.recorded("main/a").synthetic and run.phase("main/a") == "Timeout"


@pytest.mark.parametrize(
    ("prepare", "attempt", "reason"),
    [
        (lambda run: None, 2, "stale-attempt"),
        (lambda run: run.finish("main/a"), 1, "duplicate"),
        (lambda run: run.start("main/a") and run.report("main/a", code=1), 1, "duplicate"),
    ],
    ids=["not-current", "finished", "suspended"],
)
def test_a_loss_of_an_attempt_that_is_not_open_is_ignored(prepare: object, attempt: int, reason: str) -> None:
    run = one_task()
    prepare(run)  # type: ignore[operator]
    before = run.run
    decided = lose(run, "main/a", attempt)
    assert len(decided) == 1 and isinstance(decided[0], ev.InputIgnored)
    assert decided[0].reason == reason
    assert run.run.nodes == before.nodes


def test_a_loss_after_the_run_was_cancelled_is_ignored() -> None:
    run = one_task()
    run.step(ev.CancelRequested(run.at))
    decided = lose(run, "main/a", 1)
    assert len(decided) == 1 and isinstance(decided[0], ev.InputIgnored)


def test_a_late_result_of_the_lost_attempt_is_ignored_and_the_replacement_counts() -> None:
    run = one_task()
    run.start("main/a")
    lose(run, "main/a", 1)
    late = run.report("main/a", 0, attempt=1)
    assert len(late) == 1 and isinstance(late[0], ev.InputIgnored) and late[0].reason == "stale-attempt"
    assert run.phase("main/a") == "Ready"
    run.finish("main/a")
    assert run.recorded("main/a").attempt == 2
    assert run.run.phase == "Succeeded"


def test_a_history_with_a_lost_attempt_verifies_and_says_why() -> None:
    run = one_task()
    run.start("main/a")
    lose(run, "main/a", 1, "worker-stopped")
    run.finish("main/a")
    assert verify_run(list(enumerate(run.events, start=1))).ok
    lost = run.last(ev.AttemptLost)
    assert summarize(lost) == "AttemptLost main/a#1: worker-stopped (worker w1) (owner engine-1)"


def test_the_audit_trail_says_which_attempt_was_lost_and_why() -> None:
    """``aether history --phases-only`` shows the task going back to Ready with the loss
    and its reason, though the node's own message is cleared for the new attempt."""
    run = one_task()
    run.start("main/a")
    lose(run, "main/a", 1, "claim-expired")
    entries = list(iter_history(enumerate(run.events, start=1), phases_only=True, node="main/a"))
    back = [(e.from_phase, e.to_phase, e.message) for e in entries if e.from_phase == "Running"]
    assert back == [("Running", "Ready", "attempt 1 lost (claim-expired); attempt 2 dispatched")]
    assert run.node("main/a").message == ""


def test_a_loss_the_decider_ignores_leaves_the_attempt_as_it_was() -> None:
    run = one_task()
    run.start("main/a")
    run.finish("main/a")
    before = run.node("main/a").attempts
    lose(run, "main/a", 1, "claim-expired")
    assert run.node("main/a").attempts == before
