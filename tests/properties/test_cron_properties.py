"""Properties of the cron service (SPEC §12.2, §12.3, §12.5) on a fake clock.

1. Outages: for a random schedule, zone, catch-up policy, deadline and timeline of
   running periods (the ticker called at random moments) and outages (no engine, then a
   restart that catches up), the set of started (cron, scheduled time) pairs is exactly
   what §12.2 and §12.5 define, computed here from the schedule's ticks alone, and no
   pair is started twice.
2. Chaos: random interleavings of ticks, manual triggers, backfills, restarts and crashes
   between a decision and its submission never start two runs for one scheduled time,
   never both skip and start one, and the cron's history always folds.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.deaths import declare_dead

from aether.events import catalog as ev
from aether.events.codec import decode
from aether.events.times import datetime_to_ms, format_ms
from aether.model.limits import Limits
from aether.model.schedule import parse_schedule
from aether.reducers.cron import apply_cron, cron_stream
from aether.runtime.clock import FakeClock
from aether.runtime.cron import CronError, CronService
from aether.store.memory import InMemoryEventLog
from tests.conformance.harness import Harness

pytestmark = pytest.mark.spec("12.2", "12.3", "12.5")

JSON = Any
T0 = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # a day before New York springs forward
ZONES = ("UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe")

ECHO_TASK = {"task": {"name": "main", "executor": {"type": "echo"}}}

schedules = st.one_of(
    st.builds(lambda m, h: f"{m} */{h} * * *", st.integers(0, 59), st.integers(1, 8)),
    st.builds(lambda a, b: f"{a},{b} * * * *", st.integers(0, 29), st.integers(30, 59)),
    st.builds(lambda s, lo: f"*/{s} {lo}-{lo + 2} * * *", st.sampled_from([10, 15, 20, 30]), st.integers(0, 21)),
    st.sampled_from(["@hourly", "@daily", "30 2 * * *", "0,30 1 * * *", "45 23 * * SAT,SUN"]),
)


def cron_document(schedule: str, zone: str, **spec: JSON) -> dict[str, JSON]:
    return {
        "apiVersion": "aether/v1",
        "kind": "CronWorkflow",
        "metadata": {"name": "prop"},
        "spec": {
            "schedule": schedule,
            "timezone": zone,
            **spec,
            "workflowSpec": {"entrypoint": "main", "templates": [ECHO_TASK]},
        },
    }


class World:
    """One event log and clock; engines and cron services come and go as processes do."""

    def __init__(self, catchup_runs: int = 100) -> None:
        self.log = InMemoryEventLog()
        self.clock = FakeClock(T0)
        self.catchup_runs = catchup_runs
        self.service = self.boot()

    def boot(self) -> CronService:
        harness = Harness(self.log, clock=self.clock)
        service = CronService(harness.engine)
        service.limits = Limits(catchup_runs=self.catchup_runs)
        return service

    def restart(self) -> None:
        declare_dead(self.service.engine)  # the process died; a new one starts
        self.service = self.boot()
        self.service.catch_up()

    def started(self) -> list[tuple[str, str]]:
        """(cron, scheduled time) of every run in the engine, one entry per run."""
        engine = self.service.engine
        out = []
        for run_id in engine.run_ids():
            cron = engine.get_state(run_id).cron
            assert cron is not None
            out.append((f"{cron['namespace']}/{cron['name']}", cron["scheduledTime"]))
        return out

    def history(self) -> list[ev.Event]:
        return [decode(stored) for stored in self.log.read(cron_stream("default", "prop"))]


def ms(t: datetime) -> int:
    return datetime_to_ms(t)


@st.composite
def timelines(draw: st.DrawFn) -> list[tuple[str, list[int]]]:
    """Alternating phases: ("run", step sizes in minutes) and ("down", [minutes])."""
    phases: list[tuple[str, list[int]]] = []
    for i in range(draw(st.integers(1, 3))):
        phases.append(("run", draw(st.lists(st.integers(1, 95), min_size=1, max_size=8))))
        if i < 2 or draw(st.booleans()):
            phases.append(("down", [draw(st.integers(1, 36 * 60))]))
    phases.append(("run", draw(st.lists(st.integers(1, 95), min_size=0, max_size=4))))
    return phases


@given(
    schedule=schedules,
    zone=st.sampled_from(ZONES),
    catchup=st.sampled_from([None, "none", "latest", "all"]),
    window_minutes=st.one_of(st.none(), st.integers(1, 48 * 60)),
    deadline_seconds=st.one_of(st.none(), st.integers(1, 3 * 3600)),
    catchup_runs=st.integers(1, 6),
    timeline=timelines(),
)
def test_started_ticks_are_exactly_what_the_policy_defines(
    schedule: str,
    zone: str,
    catchup: str | None,
    window_minutes: int | None,
    deadline_seconds: int | None,
    catchup_runs: int,
    timeline: list[tuple[str, list[int]]],
) -> None:
    spec: dict[str, JSON] = {}
    if catchup is not None:
        spec["catchup"] = catchup
    if window_minutes is not None:
        spec["catchupWindow"] = f"{window_minutes}m"
    if deadline_seconds is not None:
        spec["startingDeadlineSeconds"] = deadline_seconds
    world = World(catchup_runs)
    world.service.create(cron_document(schedule, zone, **spec))

    # The oracle: §12.2 and §12.5 over the schedule's ticks.
    parsed = parse_schedule(schedule)
    policy = catchup or ("latest" if deadline_seconds is not None else "none")
    window = (
        timedelta(minutes=window_minutes)
        if window_minutes is not None
        else (timedelta(seconds=deadline_seconds) if deadline_seconds is not None else None)
    )
    deadline = timedelta(seconds=deadline_seconds) if deadline_seconds is not None else None
    expected: set[str] = set()
    horizon = T0  # every tick <= horizon has been handled

    def in_time(tick: datetime, processed_at: datetime) -> bool:
        return deadline is None or processed_at - tick <= deadline

    for kind, steps in timeline:
        if kind == "run":
            for minutes in steps:
                now = world.clock.now() + timedelta(minutes=minutes)
                world.clock.set(now)
                world.service.tick()
                expected.update(format_ms(ms(t)) for t in parsed.ticks(zone, horizon, now) if in_time(t, now))
                horizon = now
        else:
            world.clock.set(world.clock.now() + timedelta(minutes=steps[0]))
            world.restart()
            now = world.clock.now()
            missed = list(parsed.ticks(zone, horizon, now))
            eligible = [t for t in missed if window is None or now - t <= window]
            # latest: the most recent missed tick if it is in the window (then it is the
            # last eligible one); all: the newest L-CATCHUP eligible ones.
            chosen = {"none": [], "latest": eligible[-1:], "all": eligible[-catchup_runs:]}[policy]
            expected.update(format_ms(ms(t)) for t in chosen if in_time(t, now))
            horizon = now

    started = world.started()
    assert len(started) == len(set(started)), f"duplicate runs: {Counter(started).most_common(3)}"
    assert {time for _cron, time in started} == expected
    submitted = [e for e in world.history() if isinstance(e, ev.CronRunSubmitted)]
    assert sorted(e.scheduled_time for e in submitted) == sorted(expected)


class Crash(Exception):
    pass


operations = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(1, 240)),
        st.tuples(st.just("tick"), st.just(0)),
        st.tuples(st.just("manual"), st.integers(0, 2)),  # seconds after the minute
        st.tuples(st.just("backfill"), st.integers(-600, 60)),  # minutes from now
        st.tuples(st.just("restart"), st.just(0)),
        st.tuples(st.just("crash"), st.just(0)),  # the next submission dies after its decision
        st.tuples(st.just("policy"), st.sampled_from(["Allow", "Forbid", "Replace"])),
    ),
    min_size=1,
    max_size=25,
)


@given(
    schedule=schedules, zone=st.sampled_from(ZONES), catchup=st.sampled_from(["none", "latest", "all"]), ops=operations
)
def test_no_scheduled_time_ever_runs_twice(schedule: str, zone: str, catchup: str, ops: list[tuple[str, Any]]) -> None:
    world = World(catchup_runs=5)
    world.service.create(cron_document(schedule, zone, catchup=catchup))
    for op, arg in ops:
        service = world.service
        try:
            if op == "advance":
                world.clock.set(world.clock.now() + timedelta(minutes=arg))
            elif op == "tick":
                service.tick()
            elif op == "manual":
                now = world.clock.now()
                world.clock.set(now.replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=arg))
                service.trigger("prop")
            elif op == "backfill":
                now = world.clock.now()
                service.backfill("prop", now + timedelta(minutes=arg - 120), now + timedelta(minutes=arg))
            elif op == "restart":
                world.restart()
            elif op == "crash":

                def die(*_args: Any) -> None:
                    raise Crash

                setattr(service, "_start_run", die)  # noqa: B010 - the method itself is replaced
            elif op == "policy":
                service.update("prop", concurrency_policy=arg)
        except Crash:
            world.restart()  # the process died; a new one starts
        except CronError as exc:
            assert exc.code in ("E-CRON-TICK-PROCESSED", "E-BACKFILL-TOO-LARGE")
    world.restart()  # a final start settles whatever a crash left behind

    started = world.started()
    assert len(started) == len(set(started)), f"duplicate runs: {Counter(started).most_common(3)}"
    events = world.history()
    state = None
    for event in events:  # the history folds: no tick processed twice, no run finished twice
        state = apply_cron(state, event)
    submitted = [e.scheduled_time for e in events if isinstance(e, ev.CronRunSubmitted)]
    skipped = [e.scheduled_time for e in events if isinstance(e, ev.CronTickSkipped) and e.reason != "missed"]
    assert len(submitted) == len(set(submitted))
    assert not set(submitted) & set(skipped)
    # Every decided run exists, exactly once, under its key.
    assert sorted(submitted) == sorted(time for _cron, time in started)
