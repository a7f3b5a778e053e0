"""A running engine's ticker on a fake clock (SPEC §12.1, §12.2, §12.4): wall-clock
schedules across daylight-saving changes, concurrency policies, the starting deadline,
endAt, and history pruning as runs finish."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cron_helpers import ECHO_FAIL, ECHO_OK, ECHO_SUSPEND, Env, at, cron_doc, history, of_type, step_ticker

from aether.events import catalog as ev

pytestmark = pytest.mark.spec("12.1", "12.2", "12.4")

# --- daylight-saving changes (§12.1) ---------------------------------------------------------------


def test_spring_forward_skips_the_missing_local_time_and_loses_nothing() -> None:
    # New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist that day.
    env = Env(start=datetime(2026, 3, 7, 0, 0, tzinfo=UTC))
    env.cron.create(cron_doc("daily", "30 2 * * *", timezone="America/New_York"))
    env.cron.create(cron_doc("hourly", "15 * * * *", timezone="America/New_York"))
    step_ticker(env, datetime(2026, 3, 10, 0, 0, tzinfo=UTC), timedelta(minutes=7))
    daily = [r["scheduledTime"] for r in env.cron.get("daily")["runs"]]
    assert daily == ["2026-03-07T07:30:00.000Z", "2026-03-09T06:30:00.000Z"]  # 02:30 EST, 02:30 EDT
    hourly = [r["scheduledTime"] for r in env.cron.get("hourly")["runs"]]
    # Every real hour has exactly one :15 tick: no duplicate, none lost across the jump.
    assert len(hourly) == len(set(hourly)) == 72
    gaps = {at(b) - at(a) for a, b in itertools.pairwise(hourly)}
    assert gaps == {timedelta(hours=1)}


def test_fall_back_runs_a_repeated_local_time_once() -> None:
    # New York, 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:00 to 01:59 happen twice.
    env = Env(start=datetime(2026, 10, 31, 0, 0, tzinfo=UTC))
    env.cron.create(cron_doc("twice-an-hour", "0,30 1 * * *", timezone="America/New_York"))
    env.cron.create(cron_doc("hourly", "0 * * * *", timezone="America/New_York"))
    step_ticker(env, datetime(2026, 11, 3, 0, 0, tzinfo=UTC), timedelta(minutes=11))
    runs = [r["scheduledTime"] for r in env.cron.get("twice-an-hour")["runs"]]
    assert runs == [
        "2026-10-31T05:00:00.000Z",
        "2026-10-31T05:30:00.000Z",  # 01:00, 01:30 EDT
        "2026-11-01T05:00:00.000Z",
        "2026-11-01T05:30:00.000Z",  # first occurrence only (EDT)
        "2026-11-02T06:00:00.000Z",
        "2026-11-02T06:30:00.000Z",  # 01:00, 01:30 EST
    ]
    hourly = env.cron.get("hourly")["runs"]
    per_day = Counter(at(r["scheduledTime"]).astimezone(ZoneInfo("America/New_York")).date() for r in hourly)
    # The 25-hour day has 24 wall-clock hours, each run once.
    assert per_day[datetime(2026, 11, 1).date()] == 24
    assert len({r["scheduledTime"] for r in hourly}) == len(hourly)


def test_dst_in_the_other_hemisphere_and_half_hour_zone() -> None:
    # Sydney falls back on 2026-04-05 (03:00 AEDT -> 02:00 AEST); Adelaide too, with a :30 offset.
    env = Env(start=datetime(2026, 4, 3, 0, 0, tzinfo=UTC))
    env.cron.create(cron_doc("syd", "30 2 * * *", timezone="Australia/Sydney"))
    env.cron.create(cron_doc("adl", "30 2 * * *", timezone="Australia/Adelaide"))
    step_ticker(env, datetime(2026, 4, 7, 0, 0, tzinfo=UTC), timedelta(minutes=13))
    # The clock starts at 11:00 on the 3rd in Sydney and stops at 10:00 on the 7th.
    syd = [r["scheduledTime"] for r in env.cron.get("syd")["runs"]]
    assert [at(s).astimezone(ZoneInfo("Australia/Sydney")).strftime("%d %H:%M %Z") for s in syd] == [
        "04 02:30 AEDT",
        "05 02:30 AEDT",
        "06 02:30 AEST",
        "07 02:30 AEST",
    ]  # the 5th: first occurrence
    adl = [r["scheduledTime"] for r in env.cron.get("adl")["runs"]]
    assert len(adl) == len(set(adl)) == 4


# --- concurrency (§12.2 check 5) ---------------------------------------------------------------------


def reasons(env: Env, name: str = "nightly") -> list[tuple[str, str]]:
    return [(e.scheduled_time[11:16], e.reason) for e in of_type(history(env.log, name), ev.CronTickSkipped)]


def test_forbid_skips_ticks_while_a_long_run_is_unfinished() -> None:
    env = Env()
    env.cron.create(cron_doc(concurrencyPolicy="Forbid"))
    # The first run is dispatched but no worker takes it for 20 minutes.
    step_ticker(env, env.clock.now() + timedelta(minutes=21), timedelta(minutes=1))
    (first,) = env.cron.get("nightly")["runs"]
    assert first["scheduledTime"].endswith("10:05:00.000Z") and first["phase"] == "Ready"
    assert reasons(env) == [("10:10", "forbidden"), ("10:15", "forbidden"), ("10:20", "forbidden")]
    env.drive()  # the long run finishes
    assert env.run_phase(first["runId"]) == "Succeeded"
    step_ticker(env, env.clock.now() + timedelta(minutes=5), timedelta(minutes=1))
    runs = env.cron.get("nightly")["runs"]
    assert [r["scheduledTime"][11:16] for r in runs] == ["10:05", "10:25"]
    finished = of_type(history(env.log, "nightly"), ev.CronRunFinished)
    assert [(e.run_id, e.phase) for e in finished] == [(first["runId"], "Succeeded")]


def test_replace_cancels_the_old_run_and_starts_the_new_one() -> None:
    env = Env()
    env.cron.create(cron_doc(concurrencyPolicy="Replace", template=ECHO_SUSPEND))
    step_ticker(env, env.clock.now() + timedelta(minutes=5), timedelta(minutes=5))
    env.drive()
    (old,) = env.cron.get("nightly")["runs"]
    assert old["phase"] == "Running"  # its task is suspended
    step_ticker(env, env.clock.now() + timedelta(minutes=5), timedelta(minutes=5))
    env.drive()
    runs = env.cron.get("nightly")["runs"]
    assert [(r["runId"] == old["runId"], r["phase"]) for r in runs] == [(True, "Cancelled"), (False, "Running")]
    events = history(env.log, "nightly")
    assert [e.run_id for e in of_type(events, ev.CronRunReplaced)] == [old["runId"]]
    assert [(e.run_id, e.phase) for e in of_type(events, ev.CronRunFinished)] == [(old["runId"], "Cancelled")]
    assert env.cron.get("nightly")["status"]["active"] == [runs[1]["runId"]]


# --- deadline and window -----------------------------------------------------------------------------


def test_starting_deadline_expiring_skips_a_late_tick() -> None:
    env = Env()
    env.cron.create(cron_doc(startingDeadlineSeconds=60))
    env.set(at("2026-03-01T10:05:59Z"))
    env.cron.tick()  # 59 s late: in time
    env.set(at("2026-03-01T10:11:00.001Z"))
    env.cron.tick()  # 60.001 s late: expired
    env.set(at("2026-03-01T10:15:00Z"))
    env.cron.tick()
    assert [r["scheduledTime"][11:16] for r in env.cron.get("nightly")["runs"]] == ["10:05", "10:15"]
    assert reasons(env) == [("10:10", "deadline")]


def test_end_at_unregisters_the_cron_and_start_at_holds_it_back() -> None:
    env = Env()
    env.cron.create(cron_doc(startAt="2026-03-01T10:08:00Z", endAt="2026-03-01T10:17:00Z"))
    step_ticker(env, at("2026-03-01T11:00:00Z"), timedelta(minutes=1))
    view = env.cron.get("nightly")
    assert [r["scheduledTime"][11:16] for r in view["runs"]] == ["10:10", "10:15"]
    # One after-end skip, then nothing more is scheduled.
    assert reasons(env) == [("10:05", "before-start"), ("10:20", "after-end")]
    assert view["status"]["ended"] and view["status"]["nextScheduleTime"] is None
    assert env.cron.next_due_ms() is None
    # Moving endAt later brings the cron back.
    env.cron.update("nightly", document=cron_doc(startAt="2026-03-01T10:08:00Z", endAt="2026-03-01T12:00:00Z"))
    step_ticker(env, at("2026-03-01T11:10:00Z"), timedelta(minutes=5))
    assert env.cron.get("nightly")["runs"][-1]["scheduledTime"][11:16] == "11:10"


# --- history limits (§12.4) ----------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, 1, 3])
@pytest.mark.parametrize(
    ("template", "phase", "field"),
    [
        (ECHO_OK, "Succeeded", "successfulJobsHistoryLimit"),
        (ECHO_FAIL, "Failed", "failedJobsHistoryLimit"),
    ],
)
def test_history_pruning(limit: int, template: dict[str, Any], phase: str, field: str) -> None:
    env = Env()
    spec: dict[str, Any] = {field: limit}
    env.cron.create(cron_doc(template=template, **spec))
    started = []
    for _ in range(5):
        step_ticker(env, env.clock.now() + timedelta(minutes=5), timedelta(minutes=5))
        started.append(env.cron.get("nightly")["status"]["lastRunId"])
        env.drive()
        assert env.run_phase(started[-1]) == phase
    view = env.cron.get("nightly")  # records the last completion, which prunes
    assert [r["runId"] for r in view["runs"]] == started[len(started) - limit :] if limit else view["runs"] == []
    pruned = of_type(history(env.log, "nightly"), ev.RunPruned)
    assert [e.run_id for e in pruned] == started[: len(started) - limit]
    assert all(e.phase == phase for e in pruned)
    assert view["status"]["prunedRuns"] == len(started) - limit


def test_cancelled_and_unfinished_runs_are_never_pruned() -> None:
    env = Env()
    env.cron.create(cron_doc(template=ECHO_SUSPEND, successfulJobsHistoryLimit=0, failedJobsHistoryLimit=0))
    for _ in range(3):
        step_ticker(env, env.clock.now() + timedelta(minutes=5), timedelta(minutes=5))
    runs = env.cron.get("nightly")["runs"]
    env.engine.cancel(runs[0]["runId"])
    view = env.cron.get("nightly")
    assert [r["phase"] for r in view["runs"]] == ["Cancelled", "Ready", "Ready"]
    assert of_type(history(env.log, "nightly"), ev.RunPruned) == []
