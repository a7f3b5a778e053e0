"""Restarts, outages and concurrent engines (SPEC §12.3, §12.5): catch-up after an outage,
a crash in the middle of a tick, two engines on one log, and the ticker thread."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cron_helpers import T0, Env, at, cron_doc, history, of_type, step_ticker
from support.documents import executor, task, workflow

from aether.events import catalog as ev
from aether.events.cron_events import CronCatchupStarted, CronRunStartFailed
from aether.events.streams import run_stream
from aether.model.limits import Limits
from aether.model.problems import ValidationError, error
from aether.runtime.cron import CronError, CronService, attach_cron_ticker
from aether.store.base import EventLog
from aether.store.sqlite import SqliteEventLog

pytestmark = pytest.mark.spec("12.3", "12.5")

OUTAGE = timedelta(days=3)


class Crash(Exception):
    """The process dies here."""


def hourly_through_outage(**spec: Any) -> Env:
    """An hourly cron ticked by a running engine for two hours, then three days with no
    engine, then a new engine that starts (and catches up) at T0 + 2 h + 3 days + 20 min."""
    env = Env()
    env.cron.create(cron_doc(schedule="0 * * * *", **spec))
    step_ticker(env, T0 + timedelta(hours=2), timedelta(minutes=30))
    env.set(T0 + timedelta(hours=2) + OUTAGE + timedelta(minutes=20))
    restarted = env.restart()
    restarted.cron.catch_up()
    return restarted


def scheduled(env: Env) -> list[str]:
    return [s for s, _trigger in env.cron_runs()]


@pytest.mark.parametrize(
    ("spec", "caught_up", "missed"),
    [
        ({}, 0, 72),  # catchup absent, no deadline: none
        ({"catchup": "none"}, 0, 72),
        ({"catchup": "latest"}, 1, 71),
        ({"startingDeadlineSeconds": 3600}, 1, 71),  # absent catchup with a deadline: latest
        ({"startingDeadlineSeconds": 600}, 0, 72),  # latest, but the newest tick is 20 min old
        ({"catchup": "all"}, 72, 0),
        ({"catchup": "all", "catchupWindow": "6h"}, 6, 66),
    ],
)
def test_catch_up_after_a_three_day_outage(spec: dict[str, Any], caught_up: int, missed: int) -> None:
    env = hourly_through_outage(**spec)
    runs = env.cron_runs()
    before = [r for r in runs if r[1] == "scheduled"]
    assert [s[11:16] for s, _t in before] == ["11:00", "12:00"]
    catchup = [s for s, t in runs if t == "catchup"]
    assert len(catchup) == caught_up
    # The newest missed ticks, oldest first, ending with the latest one before the restart.
    newest = T0 + timedelta(hours=2) + OUTAGE
    assert catchup == [f"{(newest - timedelta(hours=i)).isoformat()[:19]}.000Z" for i in reversed(range(caught_up))]
    skipped = [e for e in of_type(history(env.log, "nightly"), ev.CronTickSkipped) if e.reason == "missed"]
    assert [e.count for e in skipped] == ([missed] if missed else [])
    assert env.cron.get("nightly")["status"]["missedTicks"] == missed
    # After the catch-up the ticker goes on normally, and a second start misses nothing.
    step_ticker(env, env.clock.now() + timedelta(hours=1), timedelta(minutes=10))
    assert [t for _s, t in env.cron_runs()][-1] == "scheduled"
    again = env.restart()
    again.cron.catch_up()
    assert of_type(history(env.log, "nightly"), CronCatchupStarted)[-1] == CronCatchupStarted(
        "2026-03-04T12:20:00.000Z"
    )
    assert len(again.cron_runs()) == len(env.cron_runs())


def test_catch_up_all_is_capped_by_l_catchup(monkeypatch: pytest.MonkeyPatch) -> None:
    env = Env()
    env.cron.create(cron_doc(schedule="0 * * * *", catchup="all"))
    env.set(T0 + OUTAGE + timedelta(minutes=5))
    restarted = env.restart()
    restarted.cron.limits = Limits(catchup_runs=10)
    restarted.cron.catch_up()
    catchup = scheduled(restarted)
    assert len(catchup) == 10 and catchup[-1] == "2026-03-04T10:00:00.000Z"
    (skip,) = [e for e in of_type(history(env.log, "nightly"), ev.CronTickSkipped) if e.reason == "missed"]
    assert skip.count == 62 and skip.scheduled_time == "2026-03-04T00:00:00.000Z"
    assert of_type(history(env.log, "nightly"), CronCatchupStarted)[0].catchup_limit == 10


def test_catch_up_ticks_go_through_the_concurrency_policy() -> None:
    env = Env()
    env.cron.create(cron_doc(schedule="0 * * * *", catchup="all", catchupWindow="3h", concurrencyPolicy="Forbid"))
    step_ticker(env, T0 + timedelta(hours=1), timedelta(minutes=30))
    env.drive()  # the 11:00 run finishes before the outage
    env.set(T0 + timedelta(hours=1) + OUTAGE + timedelta(minutes=20))
    restarted = env.restart()
    restarted.cron.catch_up()
    runs = [(s[5:16], t) for s, t in restarted.cron_runs()]
    # The first caught-up tick starts a run; it is unfinished, so Forbid skips the next two.
    assert runs == [("03-01T11:00", "scheduled"), ("03-04T09:00", "catchup")]
    outcomes = of_type(history(env.log, "nightly"), ev.CronTickSkipped)
    assert [(e.scheduled_time[5:16], e.reason, e.trigger) for e in outcomes] == [
        ("03-04T08:00", "missed", "catchup"),
        ("03-04T10:00", "forbidden", "catchup"),
        ("03-04T11:00", "forbidden", "catchup"),
    ]


def test_restart_in_the_middle_of_a_tick_starts_the_run_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "aether.db"
    env = Env(SqliteEventLog(path))
    env.cron.create(cron_doc())

    def crash(_stream: str, _effect: object) -> None:
        raise Crash

    # The tick's decision is durable; the process dies before the run is submitted.
    monkeypatch.setattr(env.cron, "_start_run", crash)
    env.set(at("2026-03-01T10:05:00Z"))
    with pytest.raises(Crash):
        env.cron.tick()
    assert env.engine.run_ids() == []
    submitted = of_type(history(env.log, "nightly"), ev.CronRunSubmitted)
    assert len(submitted) == 1
    env.log.close()

    # A new process on the same database: recovery submits the decided run, once.
    env.set(at("2026-03-01T10:06:00Z"))
    again = env.restart(SqliteEventLog(path))
    again.cron.catch_up()
    assert again.engine.run_ids() == [submitted[0].run_id]
    state = again.engine.get_state(submitted[0].run_id)
    assert state.idempotency_key == "cron:default/nightly@2026-03-01T10:05:00.000Z"
    assert state.cron == {
        "name": "nightly",
        "namespace": "default",
        "scheduledTime": "2026-03-01T10:05:00.000Z",
        "trigger": "scheduled",
    }
    # Nothing else re-submits or re-processes it: another restart, another catch-up, ticks.
    again.log.close()
    third = again.restart(SqliteEventLog(path))
    third.cron.catch_up()
    third.cron.recover()
    third.cron.tick()
    assert third.engine.run_ids() == [submitted[0].run_id]
    assert len(of_type(history(third.log, "nightly"), ev.CronRunSubmitted)) == 1
    third.drive()
    assert third.cron.get("nightly")["runs"][0]["phase"] == "Succeeded"
    third.log.close()


def test_a_crash_after_the_submission_does_not_start_a_second_run(tmp_path: Path) -> None:
    path = tmp_path / "aether.db"
    env = Env(SqliteEventLog(path))
    env.cron.create(cron_doc())
    env.set(at("2026-03-01T10:05:00Z"))
    env.cron.tick()
    (run_id,) = env.engine.run_ids()
    env.log.close()
    # Without the cron's memory, a restart submits the decided run again: the key returns it.
    again = env.restart(SqliteEventLog(path))
    assert again.cron.recover() == 0
    result = again.engine.submit(
        workflow("nightly", task("main", executor("echo"))),
        idempotency_key="cron:default/nightly@2026-03-01T10:05:00.000Z",
    )
    assert result.existing and result.run_id == run_id
    assert again.engine.run_ids() == [run_id]
    again.log.close()


def test_a_run_that_finished_while_nobody_listened_is_recorded_at_start() -> None:
    env = Env()
    env.cron.create(cron_doc(successfulJobsHistoryLimit=0))
    env.set(at("2026-03-01T10:05:00Z"))
    env.cron.tick()
    other = env.restart()  # an engine without a cron service runs the task
    other.drive()
    assert of_type(history(env.log, "nightly"), ev.CronRunFinished) == []
    third = env.restart()
    third.cron.catch_up()
    events = history(env.log, "nightly")
    assert [e.phase for e in of_type(events, ev.CronRunFinished)] == ["Succeeded"]
    assert len(of_type(events, ev.RunPruned)) == 1


class Interleaved:
    """An event log through which a second writer gets in between one writer's read and
    its append: ``before_append`` runs once, right before the first append."""

    def __init__(self, log: EventLog, before_append: Callable[[], object]) -> None:
        self._log = log
        self._before: Callable[[], object] | None = before_append

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)

    def _first_append(self) -> None:
        if self._before is not None:
            before, self._before = self._before, None
            before()

    def append(self, stream: str, events: Any, expected_version: int) -> int:
        self._first_append()
        return self._log.append(stream, events, expected_version)

    def append_batch(self, requests: Any, *, fence: str | None = None, claims: Any = ()) -> list[int]:
        self._first_append()
        return self._log.append_batch(requests, fence=fence, claims=claims)


@pytest.mark.parametrize("kind", ["scheduled", "manual"])
def test_two_engines_racing_for_one_tick_start_one_run(kind: str) -> None:
    one = Env()
    one.cron.create(cron_doc())
    two = one.restart(previous_died=False)  # a second engine and cron service on the same log
    one.set(at("2026-03-01T10:05:00Z"))

    def first() -> object:
        return one.cron.tick() if kind == "scheduled" else one.cron.trigger("nightly")

    # Engine two reads the cron, decides the tick, and before its append engine one
    # processes the same tick: two's append conflicts, it reloads and finds the tick taken.
    two.cron.log = two.cron.crons.log = Interleaved(one.log, first)
    if kind == "scheduled":
        assert two.cron.tick() == 0
    else:
        with pytest.raises(CronError) as taken:
            two.cron.trigger("nightly")
        assert taken.value.code == "E-CRON-TICK-PROCESSED"
    assert len(one.engine.run_ids()) == 1
    assert len(of_type(history(one.log, "nightly"), ev.CronTicked)) == 1
    assert len(of_type(history(one.log, "nightly"), ev.CronRunSubmitted)) == 1


def test_a_run_the_engine_refuses_is_recorded_as_error_and_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    env = Env()
    env.cron.create(cron_doc(concurrencyPolicy="Forbid"))

    def refuse(*_args: object, **_kwargs: object) -> object:
        raise ValidationError([error("E-TEMPLATE-REF-NOT-FOUND", "$.spec", 'workflowTemplateRef "x" not found')])

    with monkeypatch.context() as patch:
        patch.setattr(env.engine, "submit", refuse)
        env.set(at("2026-03-01T10:05:00Z"))
        env.cron.tick()
    (failed,) = of_type(history(env.log, "nightly"), CronRunStartFailed)
    view = env.cron.get("nightly")
    assert view["runs"][0]["phase"] == "Error" and "E-TEMPLATE-REF-NOT-FOUND" in view["runs"][0]["message"]
    env.cron.recover()
    assert env.engine.run_ids() == []  # not submitted again
    env.set(at("2026-03-01T10:10:00Z"))
    env.cron.tick()  # Forbid is not blocked by it
    assert len(env.engine.run_ids()) == 1
    assert failed.run_id not in env.engine.run_ids()


def test_the_ticker_thread_follows_the_fake_clock() -> None:
    env = Env()
    env.cron.create(cron_doc())
    ticker = attach_cron_ticker(env.engine)
    try:
        assert isinstance(ticker, CronService)
        env.set(at("2026-03-01T10:05:00Z"))
        wait_for(lambda: len(env.engine.run_ids()) == 1)
        env.set(at("2026-03-01T10:10:00Z"))
        wait_for(lambda: len(env.engine.run_ids()) == 2)
        env.drive()
        wait_for(lambda: len(of_type(history(env.log, "nightly"), ev.CronRunFinished)) == 2)
    finally:
        ticker.stop()
    assert ticker._thread is None
    assert [e.scheduled_time[11:16] for e in of_type(history(env.log, "nightly"), ev.CronRunSubmitted)] == [
        "10:05",
        "10:10",
    ]


def wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def test_runs_record_their_cron_in_the_engine() -> None:
    env = Env()
    env.cron.create(cron_doc())
    env.cron.trigger("nightly")
    (run_id,) = env.engine.run_ids()
    assert env.log.stream_version(run_stream(run_id)) > 0
    assert env.engine.get_state(run_id).cron == {
        "name": "nightly",
        "namespace": "default",
        "scheduledTime": "2026-03-01T10:00:00.000Z",
        "trigger": "manual",
    }


def test_a_failed_submission_is_retried_by_the_next_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    env = Env()
    env.cron.create(cron_doc())

    def unavailable(*_args: object, **_kwargs: object) -> object:
        raise OSError("database is locked")

    env.set(at("2026-03-01T10:05:00Z"))
    with monkeypatch.context() as patch:
        patch.setattr(env.engine, "submit", unavailable)
        with pytest.raises(OSError):
            env.cron.tick()
    assert env.engine.run_ids() == []
    env.set(at("2026-03-01T10:06:00Z"))
    assert env.cron.tick() == 0  # no new tick is due, but the decided run is submitted
    (run_id,) = env.engine.run_ids()
    assert env.cron.get("nightly")["runs"][0]["runId"] == run_id
