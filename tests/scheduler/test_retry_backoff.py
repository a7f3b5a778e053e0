"""Retry backoff (SPEC §9.3): the delay before retry k is
``min(duration * factor ** (k - 1), maxDuration)``, no jitter; the node waits in ``Created``
on the timer ``retry:<nodeId>:<k>``, armed at the decision time plus that delay, and the
next attempt is dispatched when it fires.
"""

from __future__ import annotations

from typing import Any

import pytest

from aether.events import catalog as ev
from tests.scheduler.scheduler_support import DecidedRun, dag, task, workflow

pytestmark = pytest.mark.spec("9.2", "9.3", "10")

JSON = Any
NODE = "main/a"


def backoff_run(backoff: dict[str, JSON], limit: int = 4) -> DecidedRun:
    site = {"name": "a", "template": "work", "retry": {"limit": limit, "backoff": backoff}}
    return DecidedRun(workflow("main", dag("main", [site]), task("work")))


def delays_until_spent(run: DecidedRun, retries: int) -> list[int]:
    """Fail every attempt with code 3, one second after it is dispatched; return each armed
    retry timer's delay (due time minus the time of the failing result)."""
    delays: list[int] = []
    for k in range(1, retries + 1):
        run.advance(1000)
        failed_at = run.now_ms
        run.finish(NODE, 3, "system failure")
        scheduled = run.last(ev.RetryScheduled, NODE)
        timer = run.armed(f"retry:{NODE}:{k}")
        assert (scheduled.retry_count, scheduled.next_attempt) == (k, k + 1)
        assert timer.purpose == "retry"
        assert timer.due_ms - failed_at == scheduled.delay_ms
        assert run.phase(NODE) == "Created", "the node waits for its backoff in Created"
        delays.append(scheduled.delay_ms)
        run.fire(timer.timer_id)
        dispatched = run.last(ev.TaskDispatched, NODE)
        assert (dispatched.attempt, dispatched.reason) == (k + 1, "retry")
        assert run.now_ms == timer.due_ms
    return delays


def test_max_duration_caps_the_growing_delay() -> None:
    run = backoff_run({"duration": "10s", "factor": 3, "maxDuration": "25s"})
    assert delays_until_spent(run, 4) == [10_000, 25_000, 25_000, 25_000]


def test_without_max_duration_the_delay_is_not_capped() -> None:
    run = backoff_run({"duration": "10s", "factor": 3})
    assert delays_until_spent(run, 4) == [10_000, 30_000, 90_000, 270_000]


def test_a_cap_below_the_first_delay_caps_every_delay() -> None:
    run = backoff_run({"duration": "10s", "factor": 2, "maxDuration": "4s"}, limit=2)
    assert delays_until_spent(run, 2) == [4_000, 4_000]


def test_a_cap_equal_to_a_delay_leaves_it_unchanged() -> None:
    run = backoff_run({"duration": "5s", "factor": 2, "maxDuration": "20s"})
    assert delays_until_spent(run, 4) == [5_000, 10_000, 20_000, 20_000]


def test_without_factor_the_delay_is_constant() -> None:
    run = backoff_run({"duration": "1.5s", "maxDuration": "1m"}, limit=3)
    assert delays_until_spent(run, 3) == [1_500, 1_500, 1_500]


def test_fractional_factors_and_durations() -> None:
    run = backoff_run({"duration": "500ms", "factor": 1.5, "maxDuration": "1s"}, limit=3)
    assert delays_until_spent(run, 3) == [500, 750, 1_000]


def test_without_backoff_the_retry_is_dispatched_in_the_same_decision() -> None:
    site = {"name": "a", "template": "work", "retry": {"limit": 1}}
    run = DecidedRun(workflow("main", dag("main", [site]), task("work")))
    run.start(NODE)
    events = run.report(NODE, 3)
    assert not [e for e in events if isinstance(e, ev.TimerArmed) and e.purpose == "retry"]
    dispatched = [e for e in events if isinstance(e, ev.TaskDispatched)]
    assert [(d.attempt, d.reason) for d in dispatched] == [(2, "retry")]
    assert run.last(ev.RetryScheduled, NODE).delay_ms == 0


def test_when_the_budget_is_spent_no_timer_is_armed_and_the_node_ends() -> None:
    run = backoff_run({"duration": "10s", "maxDuration": "20s"}, limit=1)
    delays_until_spent(run, 1)
    run.finish(NODE, 3, "again")
    assert run.completed(NODE).phase == "Error"
    assert [e.timer_id for e in run.all(ev.TimerArmed) if e.purpose == "retry"] == [f"retry:{NODE}:1"]


def test_a_retry_timer_of_a_node_that_ended_meanwhile_is_ignored() -> None:
    site = {"name": "a", "template": "work", "timeout": "5s", "retry": {"limit": 1, "backoff": {"duration": "1m"}}}
    run = DecidedRun(workflow("main", dag("main", [site]), task("work"), timeout="30s"))
    run.finish(NODE, 3)
    run.fire("workflow")
    assert run.phase(NODE) == "Timeout"
    events = run.fire(f"retry:{NODE}:1")
    assert [type(e) for e in events] == [ev.InputIgnored]
