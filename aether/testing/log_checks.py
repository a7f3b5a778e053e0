"""Small events that name themselves, and the invariants every event log keeps (SPEC §15).

Plain functions without pytest, so that a child process of a test can import them too.
"""

from __future__ import annotations

import orjson

from aether.store.base import EventLog, PendingEvent, StoredEvent


def event(tag: str, n: int = 0, type_: str = "Happened") -> PendingEvent:
    """A small JSON event whose payload identifies it (``tag``, ``n``)."""
    return PendingEvent(type_, 1, orjson.dumps({"tag": tag, "n": n}))


def events(tag: str, count: int, start: int = 0) -> list[PendingEvent]:
    """``count`` events tagged ``tag``, numbered from ``start``."""
    return [event(tag, start + i) for i in range(count)]


def payload(stored: StoredEvent) -> tuple[str, int]:
    """The (``tag``, ``n``) an :func:`event` was made with."""
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
    stream's read() equals its slice of the global order; versions/streams agree.
    Returns every event, in position order."""
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
