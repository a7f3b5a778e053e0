"""A task waiting for a person (the ``await`` executor's code 1: ``Suspended``) waits within
the workflow deadline (SPEC §10.1): the deadline is counted from submit whatever the run is
doing, so a run that may wait longer says so with its ``timeout`` (``0s``: no deadline)."""

from __future__ import annotations

import pytest

from aether.events import catalog as ev
from tests.scheduler.scheduler_support import T0_MS, DecidedRun, dag, workflow

pytestmark = pytest.mark.spec("10.1", "2.10", "14.3")

HOUR_MS = 3_600_000
APPROVAL = [{"name": "approve", "executor": {"type": "await"}}]


def _waiting(**spec: object) -> DecidedRun:
    run = DecidedRun(workflow("main", dag("main", APPROVAL), **spec))  # type: ignore[arg-type]
    run.start("main/approve")
    run.report("main/approve", 1, "awaiting resume")
    assert run.phase("main/approve") == "Suspended"
    return run


def test_the_default_deadline_ends_a_wait_after_one_hour() -> None:
    run = _waiting()
    assert run.armed("workflow").due_ms == T0_MS + HOUR_MS
    run.fire("workflow")
    assert (run.phase("main/approve"), run.run.phase) == ("Timeout", "Timeout")
    assert run.completed("main/approve").message == "workflow deadline exceeded"


def test_a_longer_timeout_lets_the_wait_last_longer() -> None:
    run = _waiting(timeout="7d")
    assert run.armed("workflow").due_ms == T0_MS + 7 * 24 * HOUR_MS


def test_timeout_0s_arms_no_deadline_so_the_wait_is_never_cut() -> None:
    run = _waiting(timeout="0s")
    assert [t for t in run.all(ev.TimerArmed) if t.purpose == "workflow"] == []
    run.advance(30 * 24 * HOUR_MS)
    assert run.phase("main/approve") == "Suspended"
