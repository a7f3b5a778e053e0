"""Helpers shared by the store tests (a plain module, so child processes can import it).

The events they append and the invariants they check are ``aether.testing.log_checks``."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from aether.store import ConcurrencyConflict, EventLog, PendingEvent, SqliteEventLog
from aether.testing.log_checks import event


def append_with_retry(
    log: EventLog,
    requests: Sequence[tuple[str, Sequence[PendingEvent]]],
    pause: Callable[[], None] = lambda: None,
    max_attempts: int = 10_000,
) -> int:
    """Append ``requests`` as one batch with each stream's current version as expected
    version, re-reading and retrying on conflict (what the engine does). ``pause`` runs
    between the read and the append, to widen the window for another writer. Returns the
    number of conflicts seen."""
    conflicts = 0
    for _ in range(max_attempts):
        batch = [(stream, evs, log.stream_version(stream)) for stream, evs in requests]
        pause()
        try:
            log.append_batch(batch)
            return conflicts
        except ConcurrencyConflict:
            conflicts += 1
    raise AssertionError(f"gave up after {max_attempts} conflicts")


def process_writer(path: str, me: int, rounds: int, start: Any, results: Any) -> None:
    """Body of one writer process in the two-process test (spawned, so it lives in an
    importable module). Appends ``rounds`` events to ``shared``, every other one grouped
    with an event to ``private-<me>``, retrying on conflict; puts its conflict count."""
    log = SqliteEventLog(path)
    try:
        start.wait(timeout=60)
        conflicts = 0
        for n in range(rounds):
            tag = f"p{me}"
            requests: list[tuple[str, Sequence[PendingEvent]]] = [("shared", [event(tag, n)])]
            if n % 2:
                requests.append((f"private-{me}", [event(tag, n)]))
            # A short random pause between reading the version and appending lets the
            # other process slip in, so the processes really race.
            conflicts += append_with_retry(log, requests, pause=lambda: time.sleep(random.random() / 2000))
        results.put((me, conflicts))
    finally:
        log.close()
