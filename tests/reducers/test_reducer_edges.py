"""Histories the reducers must refuse (SPEC §6.6: a history is a fold, and an event that does
not belong in it is an illegal transition, never silently absorbed)."""

from __future__ import annotations

import pytest

from aether.events import catalog as ev
from aether.events.times import format_datetime
from aether.reducers.cron import apply_cron
from aether.reducers.errors import IllegalTransition
from aether.reducers.run import apply
from aether.scheduler.outbox import attempts_started_and_open
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


def test_a_phase_change_from_a_phase_the_node_is_not_in_is_illegal() -> None:
    run = DecidedRun(workflow("main", task("main")))
    assert run.phase("main") == "Ready"
    with pytest.raises(IllegalTransition, match="node main is Ready, not Running"):
        apply(run.run, ev.PhaseChanged("main", "Running", "Suspended"))


def test_a_completion_from_a_phase_the_node_is_not_in_is_illegal() -> None:
    run = DecidedRun(workflow("main", task("main")))
    with pytest.raises(IllegalTransition, match="node main is Ready, not Running"):
        apply(run.run, ev.NodeCompleted("main", "Running", "Succeeded"))


def test_a_start_is_recorded_on_the_attempt_so_recovery_can_tell_it_ran() -> None:
    # §6.3: an attempt that started and never reported is recorded as lost by a new engine.
    run = DecidedRun(workflow("main", task("main")))
    assert attempts_started_and_open(run.run) == []
    run.advance(1_500)
    run.start("main")
    attempt = run.node("main").current_attempt
    assert attempt is not None and attempt.started_ms == run.now_ms
    assert attempts_started_and_open(run.run) == [("main", 1)]


def test_a_deleted_cron_refuses_a_run_submission_and_says_which_event() -> None:
    state = registered(cron_doc("nightly", "*/5 * * * *"))
    deleted = apply_cron(state, ev.CronDeleted(format_datetime(T0)))
    submitted = ev.CronRunSubmitted("2026-03-01T10:05:00.000Z", "run-1", "schedule", "cron:default/nightly@x")
    with pytest.raises(IllegalTransition, match=r"^CronRunSubmitted for deleted cron default/nightly$"):
        apply_cron(deleted, submitted)
