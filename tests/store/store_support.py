"""Helpers shared by the store tests (a plain module, so child processes can import it)."""

from __future__ import annotations

import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from aether.store import ConcurrencyConflict, EventLog, PendingEvent, SqliteEventLog, StoredEvent


class FakeClock:
    """A clock the test sets; every commit records ``now``."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def event(tag: str, n: int = 0, type_: str = "Happened") -> PendingEvent:
    """A small JSON event whose payload identifies it (``tag``, ``n``)."""
    return PendingEvent(type_, 1, orjson.dumps({"tag": tag, "n": n}))


def events(tag: str, count: int, start: int = 0) -> list[PendingEvent]:
    return [event(tag, start + i) for i in range(count)]


def payload(stored: StoredEvent) -> tuple[str, int]:
    data = orjson.loads(stored.data)
    return data["tag"], data["n"]


def read_everything(log: EventLog, page: int = 97) -> list[StoredEvent]:
    """The whole log through ``read_all`` in pages (an odd size to cross boundaries)."""
    out: list[StoredEvent] = []
    after = 0
    while True:
        chunk = log.read_all(after_position=after, limit=page)
        if not chunk:
            return out
        out.extend(chunk)
        after = chunk[-1].position


def assert_log_consistent(log: EventLog) -> list[StoredEvent]:
    """Global invariants: positions strictly increase; per-stream versions are 1..n; each
    stream's read() equals its slice of the global order; versions/streams agree."""
    everything = read_everything(log)
    positions = [e.position for e in everything]
    assert positions == sorted(set(positions)), "positions must strictly increase"
    assert log.last_position() == (positions[-1] if positions else 0)
    by_stream: dict[str, list[StoredEvent]] = {}
    for e in everything:
        by_stream.setdefault(e.stream, []).append(e)
    assert list(log.streams()) == sorted(by_stream)
    for name, history in by_stream.items():
        assert [e.version for e in history] == list(range(1, len(history) + 1)), name
        assert list(log.read(name)) == history
        assert log.stream_version(name) == len(history)
    return everything


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


class Adapter(ABC):
    """Creates fresh logs of one adapter and closes them at teardown."""

    durable: bool = False

    def __init__(self) -> None:
        self.clock = FakeClock()
        self._open: list[EventLog] = []

    def new(self) -> EventLog:
        log = self._create(self.clock)
        self._open.append(log)
        return log

    def reopen(self, log: EventLog) -> EventLog:
        """Close ``log`` and open the same store again (durable adapters only)."""
        log.close()
        reopened = self._reopen(log, self.clock)
        self._open.append(reopened)
        return reopened

    def close_all(self) -> None:
        for log in self._open:
            log.close()

    @abstractmethod
    def _create(self, clock: FakeClock) -> EventLog: ...

    def _reopen(self, log: EventLog, clock: FakeClock) -> EventLog:
        raise NotImplementedError(f"{type(self).__name__} is not durable")


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
