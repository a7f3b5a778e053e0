"""The pure cron decider (SPEC §12.2 to §12.5): checks in order, submission, concurrency,
history limits, catch-up and backfill planning, and replay determinism."""

from __future__ import annotations

from typing import Any

import pytest
from cron_helpers import T0, cron_doc, decide_all, ms, registered, tick, wire

from aether.events import catalog as ev
from aether.events.cron_events import CronCatchupStarted, CronRunStartFailed
from aether.events.times import format_ms
from aether.model.limits import Limits
from aether.reducers.cron import CronState, apply_cron
from aether.reducers.errors import IllegalTransition
from aether.scheduler.cron import (
    E_BACKFILL_RANGE,
    E_BACKFILL_TOO_LARGE,
    E_EXISTS,
    E_NOT_FOUND,
    E_SPEC_IMMUTABLE,
    E_TICK_PROCESSED,
    IGNORED,
    CronRequestError,
    catchup_inputs,
    cron_run_id,
    decide_cron,
    due_ticks,
    idempotency_key,
    plan_backfill,
    plan_catchup,
)
from aether.scheduler.effects import CancelRun, StartRun

pytestmark = pytest.mark.spec("12.2", "12.3", "12.4", "12.5")


def only(decision_events: tuple[ev.Event, ...], cls: type[ev.Event]) -> list[ev.Event]:
    return [e for e in decision_events if isinstance(e, cls)]


def finish(state: CronState, run_id: str, phase: str, when: str = "2026-03-01T12:00:00Z") -> CronState:
    decision = decide_cron(state, ev.CronRunFinished(run_id, phase, when))
    assert decision.accepted and decision.state is not None
    return decision.state


# --- submission ------------------------------------------------------------------------------


def test_a_tick_submits_one_run_keyed_by_cron_and_scheduled_time() -> None:
    state = registered(cron_doc("nightly", "*/5 * * * *"))
    decision = decide_cron(state, tick("2026-03-01T10:05:02.500Z", "2026-03-01T10:05:00Z"))
    assert decision.accepted
    (submitted,) = decision.events
    assert isinstance(submitted, ev.CronRunSubmitted)
    key = "cron:default/nightly@2026-03-01T10:05:00.000Z"
    assert submitted.idempotency_key == key == idempotency_key("default", "nightly", ms("2026-03-01T10:05:00Z"))
    assert submitted.run_id == cron_run_id("nightly", key)
    (effect,) = decision.effects
    assert isinstance(effect, StartRun)
    assert effect.idempotency_key == key and effect.run_id == submitted.run_id
    assert effect.document["kind"] == "Workflow"
    assert effect.document["metadata"] == state.document["metadata"]
    assert effect.document["spec"] == state.document["spec"]["workflowSpec"]
    assert effect.cron == {
        "name": "nightly",
        "namespace": "default",
        "scheduledTime": "2026-03-01T10:05:00.000Z",
        "trigger": "scheduled",
    }
    after = decision.state
    assert after is not None
    # lastScheduleTime is the scheduled time, not the processing time (§12.3).
    assert after.last_schedule_ms == ms("2026-03-01T10:05:00Z")
    assert after.last_run_id == submitted.run_id


def test_run_ids_differ_by_namespace_and_time_and_are_stable() -> None:
    a = cron_run_id("n", idempotency_key("a", "n", 0))
    assert a == cron_run_id("n", idempotency_key("a", "n", 0))
    assert a != cron_run_id("n", idempotency_key("b", "n", 0))
    assert a != cron_run_id("n", idempotency_key("a", "n", 1))
    assert a.startswith("n-")


def test_last_schedule_time_never_moves_backwards() -> None:
    state = registered(cron_doc(schedule="0 * * * *"))
    state, _ = decide_all(state, tick("2026-03-01T11:00:00Z"))
    state, decisions = decide_all(state, tick("2026-03-01T11:30:00Z", "2026-03-01T10:00:00Z", "backfill"))
    assert decisions[0].accepted and only(decisions[0].events, ev.CronRunSubmitted)
    assert state.last_schedule_ms == ms("2026-03-01T11:00:00Z")


# --- the checks of §12.2, in order -------------------------------------------------------------


def skip_reason(state: CronState, trigger: ev.CronTicked) -> str | None:
    decision = decide_cron(state, trigger)
    assert decision.accepted
    skipped = only(decision.events, ev.CronTickSkipped)
    return skipped[0].reason if skipped else None  # type: ignore[attr-defined]


def test_suspend_is_checked_first_and_only_for_scheduled_and_catchup_ticks() -> None:
    state = registered(cron_doc(suspend=True, startAt="2026-03-02T00:00:00Z"))
    assert skip_reason(state, tick("2026-03-01T10:05:00Z")) == "suspended"
    assert skip_reason(state, tick("2026-03-01T10:05:00Z", trigger="catchup")) == "suspended"
    # Manual: suspend does not apply, the next check does.
    assert skip_reason(state, tick("2026-03-01T10:05:00Z", trigger="manual")) == "before-start"


def test_before_start_after_end_deadline() -> None:
    state = registered(
        cron_doc(startAt="2026-03-01T10:10:00Z", endAt="2026-03-01T11:00:00Z", startingDeadlineSeconds=30)
    )
    assert skip_reason(state, tick("2026-03-01T10:05:00Z")) == "before-start"
    assert skip_reason(state, tick("2026-03-01T10:10:00Z")) is None  # startAt itself is in
    assert skip_reason(state, tick("2026-03-01T11:00:00Z")) is None  # endAt itself is in
    assert skip_reason(state, tick("2026-03-01T11:05:00Z")) == "after-end"
    assert skip_reason(state, tick("2026-03-01T10:15:30Z", "2026-03-01T10:15:00Z")) is None  # exactly 30 s late
    assert skip_reason(state, tick("2026-03-01T10:15:30.001Z", "2026-03-01T10:15:00Z")) == "deadline"


def test_after_end_stops_the_ticker() -> None:
    state = registered(cron_doc(endAt="2026-03-01T10:07:00Z"))
    state, _ = decide_all(state, tick("2026-03-01T10:05:00Z"), tick("2026-03-01T10:10:00Z"))
    assert state.ended
    assert list(due_ticks(state, ms("2026-03-02T00:00:00Z"))) == []


def test_forbid_skips_while_a_run_is_unfinished() -> None:
    state = registered(cron_doc(concurrencyPolicy="Forbid"))
    state, decisions = decide_all(state, tick("2026-03-01T10:05:00Z"), tick("2026-03-01T10:10:00Z"))
    assert skip_reason(state, tick("2026-03-01T10:15:00Z")) == "forbidden"
    first = decisions[0].events[0]
    assert isinstance(first, ev.CronRunSubmitted)
    state = finish(state, first.run_id, "Succeeded")
    assert skip_reason(state, tick("2026-03-01T10:15:00Z")) is None


def test_replace_cancels_every_unfinished_run_in_creation_order_then_submits() -> None:
    state = registered(cron_doc(concurrencyPolicy="Allow"))
    state, decisions = decide_all(state, tick("2026-03-01T10:05:00Z"), tick("2026-03-01T10:10:00Z"))
    old = [d.events[0].run_id for d in decisions]  # type: ignore[attr-defined]
    state = apply_cron(state, ev.CronUpdated("2026-03-01T10:11:00Z", wire(cron_doc(concurrencyPolicy="Replace"))))
    decision = decide_cron(state, tick("2026-03-01T10:15:00Z"))
    replaced = only(decision.events, ev.CronRunReplaced)
    assert [e.run_id for e in replaced] == old  # type: ignore[attr-defined]
    assert [type(e) for e in decision.effects] == [CancelRun, CancelRun, StartRun]
    assert [e.run_id for e in decision.effects[:2]] == old  # type: ignore[union-attr]
    # Until their cancellation is reported, replaced runs are still unfinished: a second
    # Replace tick asks again (idempotent) but records the replacement only once.
    assert decision.state is not None
    again = decide_cron(decision.state, tick("2026-03-01T10:20:00Z"))
    assert [e.run_id for e in only(again.events, ev.CronRunReplaced)] == [  # type: ignore[attr-defined]
        decision.events[-1].run_id
    ]  # type: ignore[attr-defined]
    assert [type(e) for e in again.effects] == [CancelRun, CancelRun, CancelRun, StartRun]


def test_backfill_ignores_suspend_deadline_and_concurrency() -> None:
    state = registered(cron_doc(suspend=True, concurrencyPolicy="Forbid", startingDeadlineSeconds=1))
    state, decisions = decide_all(
        state,
        tick("2026-03-01T12:00:00Z", "2026-03-01T10:05:00Z", "backfill"),
        tick("2026-03-01T12:00:00Z", "2026-03-01T10:10:00Z", "backfill"),
    )
    assert all(isinstance(d.events[0], ev.CronRunSubmitted) for d in decisions)
    assert len(state.active_runs()) == 2


# --- exactly once ---------------------------------------------------------------------------------


def test_a_processed_tick_is_refused_by_the_decider_and_the_reducer() -> None:
    state = registered(cron_doc())
    state, _ = decide_all(state, tick("2026-03-01T10:05:00Z"))
    for trigger in ("scheduled", "manual", "backfill", "catchup"):
        decision = decide_cron(state, tick("2026-03-01T10:06:00Z", "2026-03-01T10:05:00Z", trigger))
        assert decision.rejection is not None and decision.rejection.code == E_TICK_PROCESSED
        assert decision.events == () and decision.effects == ()
    with pytest.raises(IllegalTransition):
        apply_cron(state, tick("2026-03-01T10:06:00Z", "2026-03-01T10:05:00Z"))
    with pytest.raises(IllegalTransition):  # never both started and skipped
        apply_cron(state, ev.CronTickSkipped("2026-03-01T10:05:00.000Z", "forbidden"))
    skipped = registered(cron_doc(suspend=True))
    skipped, _ = decide_all(skipped, tick("2026-03-01T10:05:00Z"))
    with pytest.raises(IllegalTransition):
        apply_cron(skipped, ev.CronRunSubmitted("2026-03-01T10:05:00.000Z", "x", "manual", "k"))


def test_registration_update_delete_rules() -> None:
    state = registered(cron_doc())
    again = decide_cron(state, ev.CronRegistered("default/nightly", "2026-03-01T10:01:00Z", wire(cron_doc())))
    assert again.rejection is not None and again.rejection.code == E_EXISTS
    changed = cron_doc(schedule="0 * * * *", suspend=True, concurrencyPolicy="Forbid")
    ok = decide_cron(state, ev.CronUpdated("2026-03-01T10:01:00Z", wire(changed)))
    assert ok.accepted and ok.state is not None and ok.state.settings.suspend
    other_spec = cron_doc(
        template={
            "task": {
                "name": "main",
                "executor": {"type": "echo"},
                "inputs": {"parameters": [{"name": "x", "value": 1}]},
            }
        }
    )
    refused = decide_cron(state, ev.CronUpdated("2026-03-01T10:01:00Z", wire(other_spec)))
    assert refused.rejection is not None and refused.rejection.code == E_SPEC_IMMUTABLE
    assert refused.rejection.message == "spec.workflowSpec is immutable"
    deleted = decide_cron(state, ev.CronDeleted("2026-03-01T10:02:00Z"))
    assert deleted.state is not None and deleted.state.deleted
    for trigger in (tick("2026-03-01T10:05:00Z"), ev.CronDeleted("2026-03-01T10:03:00Z")):
        gone = decide_cron(deleted.state, trigger)
        assert gone.rejection is not None and gone.rejection.code == E_NOT_FOUND
    # A new registration after delete is a new incarnation that still knows its processed ticks.
    reborn = decide_cron(deleted.state, ev.CronRegistered("default/nightly", "2026-03-01T10:04:00Z", wire(cron_doc())))
    assert reborn.accepted and reborn.state is not None and not reborn.state.deleted


def test_finish_reports_for_unknown_or_finished_runs_are_ignored() -> None:
    state = registered(cron_doc())
    state, decisions = decide_all(state, tick("2026-03-01T10:05:00Z"))
    run_id = decisions[0].events[0].run_id  # type: ignore[attr-defined]
    assert decide_cron(state, ev.CronRunFinished("nope", "Succeeded", "2026-03-01T10:06:00Z")).rejection
    state = finish(state, run_id, "Failed")
    twice = decide_cron(state, ev.CronRunFinished(run_id, "Failed", "2026-03-01T10:07:00Z"))
    assert twice.rejection is not None and twice.rejection.code == IGNORED
    with pytest.raises(IllegalTransition):
        apply_cron(state, ev.CronRunFinished(run_id, "Failed", "2026-03-01T10:07:00Z"))


def test_a_run_the_engine_refused_counts_as_error() -> None:
    state = registered(cron_doc(concurrencyPolicy="Forbid"))
    state, decisions = decide_all(state, tick("2026-03-01T10:05:00Z"))
    run_id = decisions[0].events[0].run_id  # type: ignore[attr-defined]
    decision = decide_cron(state, CronRunStartFailed(run_id, "2026-03-01T10:05:00Z", "template gone"))
    assert decision.state is not None
    run = decision.state.run(run_id)
    assert run is not None and run.phase == "Error" and run.message == "template gone"
    assert skip_reason(decision.state, tick("2026-03-01T10:10:00Z")) is None


# --- history limits (§12.4) ---------------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, 1, 3])
def test_history_limits_keep_the_newest(limit: int) -> None:
    state = registered(cron_doc(successfulJobsHistoryLimit=limit, failedJobsHistoryLimit=limit))
    runs = []
    for minute in range(5, 65, 5):
        hh, mm = divmod(10 * 60 + minute, 60)
        state, decisions = decide_all(state, tick(f"2026-03-01T{hh:02d}:{mm:02d}:00Z"))
        runs.append(decisions[0].events[0].run_id)  # type: ignore[attr-defined]
    phases = [
        "Succeeded",
        "Failed",
        "Cancelled",
        "Error",
        "Succeeded",
        "Timeout",
        "Succeeded",
        "Failed",
        "Succeeded",
        "Cancelled",
        "Succeeded",
    ]  # the 12th stays unfinished
    pruned: list[str] = []
    for run_id, phase in zip(runs, phases, strict=False):
        decision = decide_cron(state, ev.CronRunFinished(run_id, phase, "2026-03-01T12:00:00Z"))
        assert decision.state is not None
        state = decision.state
        pruned += [e.run_id for e in only(decision.events, ev.RunPruned)]  # type: ignore[attr-defined]
    succeeded = [r for r, p in zip(runs, phases, strict=False) if p == "Succeeded"]
    failed = [r for r, p in zip(runs, phases, strict=False) if p in ("Failed", "Error", "Timeout")]
    cancelled = [r for r, p in zip(runs, phases, strict=False) if p == "Cancelled"]
    kept = succeeded[len(succeeded) - limit :] if limit else []
    kept_failed = failed[len(failed) - limit :] if limit else []
    expected = sorted(set(runs) - set(kept) - set(kept_failed) - set(cancelled) - {runs[-1]}, key=runs.index)
    # Runs are pruned as later ones finish, so compare as creation-ordered sets.
    assert sorted(pruned, key=runs.index) == expected and len(pruned) == len(set(pruned))
    assert [r.run_id for r in state.runs_in_order()] == [r for r in runs if r not in expected]


def test_explicit_zero_prunes_at_once_and_absent_limits_are_three_and_one() -> None:
    state = registered(cron_doc())
    assert (state.settings.keep_succeeded, state.settings.keep_failed) == (3, 1)
    zero = registered(cron_doc(successfulJobsHistoryLimit=0))
    zero, decisions = decide_all(zero, tick("2026-03-01T10:05:00Z"))
    run_id = decisions[0].events[0].run_id  # type: ignore[attr-defined]
    decision = decide_cron(zero, ev.CronRunFinished(run_id, "Succeeded", "2026-03-01T10:06:00Z"))
    assert [type(e) for e in decision.events] == [ev.RunPruned]
    with pytest.raises(IllegalTransition):  # pruning is for terminal, non-cancelled runs only
        apply_cron(zero, ev.RunPruned(run_id, "Succeeded"))


# --- catch-up (§12.5) ------------------------------------------------------------------------------


def hourly(**spec: Any) -> CronState:
    return registered(cron_doc(schedule="0 * * * *", **spec))


def test_catchup_defaults_follow_the_deadline() -> None:
    assert hourly().settings.catchup == "none"
    with_deadline = hourly(startingDeadlineSeconds=600)
    assert with_deadline.settings.catchup == "latest"
    assert with_deadline.settings.catchup_window_ms == 600_000
    assert hourly(catchup="all").settings.catchup_window_ms is None
    assert hourly(catchup="all", catchupWindow="2h").settings.catchup_window_ms == 7_200_000


@pytest.mark.parametrize(
    ("spec", "process", "missed"),
    [
        ({"catchup": "none"}, [], 5),
        ({"catchup": "latest"}, ["15:00"], 4),
        ({"catchup": "all"}, ["11:00", "12:00", "13:00", "14:00", "15:00"], 0),
        ({"catchup": "all", "catchupWindow": "2h"}, ["14:00", "15:00"], 3),  # window from 13:30
        ({"catchup": "latest", "catchupWindow": "10m"}, [], 5),
        ({"startingDeadlineSeconds": 3600}, ["15:00"], 4),
    ],
)
def test_catchup_plans(spec: dict[str, Any], process: list[str], missed: int) -> None:
    state = hourly(**spec)
    plan = plan_catchup(state, ms("2026-03-01T15:30:00Z"), 100)
    assert [format_ms(t)[11:16] for t in plan.process] == process
    assert plan.missed == missed and plan.elapsed


def test_catchup_all_keeps_the_newest_limit_and_skips_processed_ticks() -> None:
    state = hourly(catchup="all")
    state, _ = decide_all(state, tick("2026-03-01T12:10:00Z", "2026-03-01T12:00:00Z", "manual"))
    plan = plan_catchup(state, ms("2026-03-01T15:30:00Z"), 2)
    assert [format_ms(t)[11:16] for t in plan.process] == ["14:00", "15:00"]
    assert plan.missed == 2  # 11:00 and 13:00; 12:00 was processed by the manual trigger
    assert plan.newest_missed_ms == ms("2026-03-01T13:00:00Z")


def test_catchup_decision_records_one_missed_skip_and_moves_the_horizon() -> None:
    state = hourly(catchup="latest")
    at = "2026-03-01T15:30:00.000Z"
    inputs = catchup_inputs(state, at, 100)
    assert [type(i) for i in inputs] == [CronCatchupStarted, ev.CronTicked]
    state, decisions = decide_all(state, *inputs)
    skipped = decisions[0].events
    assert skipped == (ev.CronTickSkipped("2026-03-01T14:00:00.000Z", "missed", "catchup", 4),)
    assert isinstance(decisions[1].events[0], ev.CronRunSubmitted)
    assert decisions[1].events[0].trigger == "catchup"
    assert state.missed_total == 4 and state.horizon_ms == ms(at)
    # Nothing is missed twice: a second start right after finds nothing.
    assert catchup_inputs(state, "2026-03-01T15:40:00.000Z", 100) == []
    # The ticks a catch-up skipped stay unprocessed: a backfill may still run them.
    times = plan_backfill(state, ms("2026-03-01T10:30:00Z"), ms("2026-03-01T16:00:00Z"), ms(at))
    assert [format_ms(t)[11:16] for t in times] == ["11:00", "12:00", "13:00", "14:00"]


def test_catchup_ticks_still_go_through_the_deadline_check() -> None:
    state = hourly(catchup="all", startingDeadlineSeconds=3600)
    state, decisions = decide_all(state, *catchup_inputs(state, "2026-03-01T15:30:00.000Z", 100))
    outcomes = [type(d.events[0]).__name__ for d in decisions[1:]]
    # The window defaults to the deadline, so only 15:00 is even considered.
    assert outcomes == ["CronRunSubmitted"]
    explicit = hourly(catchup="all", catchupWindow="3h", startingDeadlineSeconds=3600)
    explicit, decisions = decide_all(explicit, *catchup_inputs(explicit, "2026-03-01T15:30:00.000Z", 100))
    reasons = [getattr(d.events[0], "reason", "run") for d in decisions[1:]]
    assert reasons == ["deadline", "deadline", "run"]  # 13:00, 14:00 late by more than an hour


# --- backfill (§12.5) ------------------------------------------------------------------------------


def test_backfill_range_is_half_open_within_start_and_end_and_skips_processed() -> None:
    state = registered(
        cron_doc(schedule="0 * * * *", startAt="2026-03-01T11:30:00Z", endAt="2026-03-01T15:00:00Z"), when=T0
    )
    state, _ = decide_all(state, tick("2026-03-01T13:00:00Z"))
    times = plan_backfill(state, ms("2026-03-01T10:00:00Z"), ms("2026-03-01T16:00:00Z"), ms("2026-03-02T00:00:00Z"))
    assert [format_ms(t)[11:16] for t in times] == ["12:00", "14:00", "15:00"]
    times = plan_backfill(state, ms("2026-03-01T12:00:00Z"), ms("2026-03-01T14:00:00Z"), ms("2026-03-02T00:00:00Z"))
    assert [format_ms(t)[11:16] for t in times] == ["12:00"]
    # Times after now are the ticker's.
    times = plan_backfill(state, ms("2026-03-01T10:00:00Z"), ms("2026-03-01T16:00:00Z"), ms("2026-03-01T14:30:00Z"))
    assert [format_ms(t)[11:16] for t in times] == ["12:00", "14:00"]


def test_backfill_limit_and_empty_range() -> None:
    state = registered(cron_doc(schedule="* * * * *"))
    limits = Limits(backfill_times=10)
    ok = plan_backfill(state, ms("2026-03-01T09:00:00Z"), ms("2026-03-01T09:10:00Z"), ms(T0), limits)
    assert len(ok) == 10
    with pytest.raises(CronRequestError) as too_large:
        plan_backfill(state, ms("2026-03-01T09:00:00Z"), ms("2026-03-01T09:11:00Z"), ms(T0), limits)
    assert too_large.value.code == E_BACKFILL_TOO_LARGE
    with pytest.raises(CronRequestError) as empty:
        plan_backfill(state, ms("2026-03-01T09:00:00Z"), ms("2026-03-01T09:00:00Z"), ms(T0), limits)
    assert empty.value.code == E_BACKFILL_RANGE


# --- replay -----------------------------------------------------------------------------------------


def test_replaying_the_inputs_reproduces_every_decision() -> None:
    """ARCHITECTURE rule 2 for the cron stream: fold the recorded history, and at each
    input decide again from the state before it; the decision must be what was recorded."""
    state = registered(
        cron_doc(
            schedule="*/10 * * * *",
            concurrencyPolicy="Replace",
            successfulJobsHistoryLimit=1,
            startingDeadlineSeconds=120,
        )
    )
    recorded: list[ev.Event] = [ev.CronRegistered("default/nightly", "2026-03-01T10:00:00.000Z", state.document)]
    inputs: list[ev.Event] = [
        tick("2026-03-01T10:10:00Z"),
        tick("2026-03-01T10:20:05Z", "2026-03-01T10:20:00Z"),
        tick("2026-03-01T10:33:00Z", "2026-03-01T10:30:00Z"),  # late: deadline
        tick("2026-03-01T10:34:00Z", trigger="manual"),
        CronCatchupStarted("2026-03-01T12:00:00.000Z"),
        tick("2026-03-01T12:00:00Z", "2026-03-01T12:00:00Z", "catchup"),
    ]
    for trigger in inputs:
        decision = decide_cron(state, trigger)
        assert decision.accepted and decision.state is not None
        recorded += [trigger, *decision.events]
        state = decision.state
        for event in decision.events:
            if isinstance(event, ev.CronRunReplaced):
                finished = ev.CronRunFinished(event.run_id, "Cancelled", trigger.at)  # type: ignore[attr-defined]
                after = decide_cron(state, finished)
                assert after.state is not None
                recorded += [finished, *after.events]
                state = after.state
    # Replay.
    folded: CronState | None = None
    i = 0
    while i < len(recorded):
        trigger = recorded[i]
        assert trigger.KIND == "input"
        decision = decide_cron(folded, trigger)
        n = len(decision.events)
        assert list(decision.events) == recorded[i + 1 : i + 1 + n]
        assert i + 1 + n == len(recorded) or recorded[i + 1 + n].KIND == "input"
        for event in recorded[i : i + 1 + n]:
            folded = apply_cron(folded, event)
        i += 1 + n
    assert folded == state
