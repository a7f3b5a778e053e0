"""Histories the reducers must refuse (SPEC §6.6: a history is a fold, and an event that does
not belong in it is an illegal transition, never silently absorbed)."""

from __future__ import annotations

import pytest

from aether.events import catalog as ev
from aether.events.times import format_datetime
from aether.reducers.cron import apply_cron
from aether.reducers.errors import IllegalTransition
from tests.cron.cron_helpers import T0, cron_doc, registered, wire
from tests.scheduler.scheduler_support import DecidedRun, task, workflow


def test_a_cron_history_refuses_an_event_of_a_run_history() -> None:
    state = registered(cron_doc("nightly", "*/5 * * * *"))
    with pytest.raises(IllegalTransition, match="does not belong in a cron's history"):
        apply_cron(state, ev.TimerFired("workflow", format_datetime(T0)))


def test_a_live_cron_cannot_be_registered_twice() -> None:
    document = wire(cron_doc("nightly", "*/5 * * * *"))
    state = registered(cron_doc("nightly", "*/5 * * * *"))
    with pytest.raises(IllegalTransition, match="already registered"):
        apply_cron(state, ev.CronRegistered(state.cron_id, format_datetime(T0), document))


def test_a_deleted_cron_can_be_registered_again() -> None:
    document = wire(cron_doc("nightly", "*/5 * * * *"))
    state = registered(cron_doc("nightly", "*/5 * * * *"))
    deleted = apply_cron(state, ev.CronDeleted(format_datetime(T0)))
    again = apply_cron(deleted, ev.CronRegistered(state.cron_id, format_datetime(T0), document))
    assert not again.deleted


# --- the leaf phase machine (§6.4) -------------------------------------------------------------


def test_a_deadline_before_the_start_may_end_a_ready_leaf_in_the_phase_its_conditions_choose() -> None:
    # Ready -> Failed is the task-deadline edge "after phaseConditions" of the leaf table.
    run = DecidedRun(workflow("main", task("main", timeout="10s", phaseConditions={"failed": "phase == 'Timeout'"})))
    assert run.phase("main") == "Ready"
    run.fire("task:main:0")
    assert (run.phase("main"), run.completed("main").message) == ("Failed", "task deadline exceeded")
    assert run.run.phase == "Failed"
