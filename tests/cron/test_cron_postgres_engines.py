"""Cron on several engines sharing one PostgreSQL database (SPEC §12.3): whichever engine
ticks, each scheduled time is processed once and starts exactly one run. Four engines, each
on its own connection, tick the same cron at the same instants from four threads, for half
an hour of schedule on a shared fake clock."""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import ExitStack
from datetime import timedelta

import pytest
from cron_helpers import T0, Env, cron_doc, history, of_type

from aether.events import catalog as ev
from aether.store.postgres import PostgresEventLog

pytestmark = pytest.mark.spec("12.3", "12.4")

ENGINES = 4
MINUTES = 30


def test_four_engines_ticking_at_once_start_one_run_per_scheduled_time(postgres_url: str) -> None:
    with ExitStack() as closing:
        logs = [closing.enter_context(PostgresEventLog(postgres_url)) for _ in range(ENGINES)]
        first = Env(logs[0], start=T0)
        first.cron.create(cron_doc(schedule="* * * * *"))
        envs = [first] + [first.restart(log, previous_died=False) for log in logs[1:]]

        processed = Counter[int]()
        failures: list[BaseException] = []

        def tick(index: int, ready: threading.Barrier) -> None:
            ready.wait()
            try:
                processed[index] += envs[index].cron.tick()
            except BaseException as exc:  # reported below, with the others
                failures.append(exc)

        for _minute in range(MINUTES):
            first.advance(minutes=1)
            ready = threading.Barrier(ENGINES)
            threads = [threading.Thread(target=tick, args=(i, ready)) for i in range(ENGINES)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        assert failures == []

        events = history(logs[0], "nightly")
        ticked = Counter(e.scheduled_time for e in of_type(events, ev.CronTicked))
        submitted = Counter(e.scheduled_time for e in of_type(events, ev.CronRunSubmitted))
        expected = {(T0 + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%S.000Z") for m in range(1, MINUTES + 1)}
        assert set(ticked) == expected and set(ticked.values()) == {1}, ticked
        assert set(submitted) == expected and set(submitted.values()) == {1}, submitted
        assert sum(processed.values()) == MINUTES
        runs = [stream for stream in logs[0].streams("run:")]
        assert len(runs) == MINUTES, "one run per scheduled time, whichever engine ticked"
