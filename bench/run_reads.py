"""Reading back a finished run, the three ways the `replay` scenario times: fold, verify and
time travel."""

from __future__ import annotations

import time
from collections.abc import Callable

from aether.events.codec import decode
from aether.events.streams import run_stream
from aether.history.verify import verify_run
from aether.reducers.run import fold
from aether.runtime.setup import postgres_engine, sqlite_engine
from aether.runtime.time_travel_queries import TimeTravel
from aether.store import open_log
from aether.store.loading import read_run_events
from aether.store.postgres_connect import is_postgres_url


def timed_when_warm(read: Callable[[], None]) -> float:
    """Seconds of the second call of ``read``: the first builds the codec's converters and
    fills the caches, as the limit's first read does (bench/raw_log.py)."""
    read()
    started = time.perf_counter()
    read()
    return time.perf_counter() - started


def stream_length(db: str, run_id: str) -> int:
    log = open_log(db)
    try:
        return log.stream_version(run_stream(run_id))
    finally:
        log.close()


def fold_run(db: str, run_id: str) -> None:
    """Read, decode and apply every event of the run: loading it without a snapshot."""
    log = open_log(db)
    try:
        state = fold(decode(stored) for stored in log.read(run_stream(run_id)))
    finally:
        log.close()
    assert state is not None, f"run {run_id} has no events"


def verify(db: str, run_id: str) -> None:
    """Re-decide every recorded input and compare (`aether replay RUN --verify`)."""
    log = open_log(db)
    try:
        result = verify_run(read_run_events(log, run_id))
    finally:
        log.close()
    if not result.ok:
        raise AssertionError(f"run {run_id} does not verify: {result.mismatch}")


def time_travel_seconds(db: str, run_id: str, points: list[int]) -> float:
    """Seconds to show the run at every one of ``points`` as `replay --at SEQ --json` does,
    timed when warm."""
    engine = (
        postgres_engine(db, workers=0, drives="none")
        if is_postgres_url(db)
        else sqlite_engine(db, workers=0, drives="none")
    )
    try:
        travel = TimeTravel(engine)

        def visit_every_point() -> None:
            for point in points:
                view = travel.view_at(run_id, point)
                assert view is not None, f"no view of run {run_id} at event {point}"
                view.to_json()

        return timed_when_warm(visit_every_point)
    finally:
        engine.log.close()
