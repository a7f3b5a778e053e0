"""Several threads appending at once through one log object, on every adapter."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from store_support import append_with_retry

from aether.store import EventLog
from aether.testing.adapters import EventLogFactory
from aether.testing.log_checks import assert_log_consistent, event, payload

pytestmark = pytest.mark.spec("15")

THREADS = 8
ROUNDS = 40


def yield_gil() -> None:
    # Between reading the version and appending: lets another thread in, so writers
    # really race (without it the GIL tends to run each thread's loop uninterrupted).
    time.sleep(0)


def writer(log: EventLog, me: int, start: threading.Barrier, conflicts: list[int], errors: list[BaseException]) -> None:
    try:
        start.wait()
        for n in range(ROUNDS):
            tag = f"t{me}"
            if n % 2:
                # Group commit across a contended and a private stream: if the shared
                # stream conflicts, the private event must not be written either.
                requests = [("shared", [event(tag, n)]), (f"private-{me}", [event(tag, n)])]
            else:
                requests = [("shared", [event(tag, n)])]
            conflicts.append(append_with_retry(log, requests, pause=yield_gil))
    except BaseException as exc:
        errors.append(exc)


def test_concurrent_writers_never_lose_or_duplicate_a_version(event_log_factory: EventLogFactory) -> None:
    log = event_log_factory.new()
    start = threading.Barrier(THREADS)
    conflicts: list[int] = []
    errors: list[BaseException] = []
    threads = [threading.Thread(target=writer, args=(log, me, start, conflicts, errors)) for me in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    assert sum(conflicts) > 0, "the writers never raced: the test exercised nothing"

    assert_log_consistent(log)
    shared = [payload(e) for e in log.read("shared")]
    assert len(shared) == THREADS * ROUNDS
    assert Counter(shared).most_common(1)[0][1] == 1, "an event was appended twice"
    for me in range(THREADS):
        mine = [n for tag, n in shared if tag == f"t{me}"]
        assert mine == list(range(ROUNDS)), "each writer's events keep its order"
        private = [payload(e) for e in log.read(f"private-{me}")]
        assert private == [(f"t{me}", n) for n in range(1, ROUNDS, 2)]
