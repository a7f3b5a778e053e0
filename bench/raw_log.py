"""The physical limit of the log on this machine: the same rows a measured run recorded,
appended to a plain sqlite3 table on disk in the engine's own batches, then read back and
decoded. Nothing Aether does for those events can be cheaper than this."""

from __future__ import annotations

import itertools
import sqlite3
import time
from pathlib import Path

from attrs import frozen

from aether.events.catalog import Event
from aether.events.codec import decode_raw
from aether.store import open_log
from aether.store.base import AppendRequest, PendingEvent, StoredEvent
from aether.store.sqlite import SqliteEventLog

# The log's own durability (aether.store.sqlite): WAL, synchronous=NORMAL.
RAW_SCHEMA = """
CREATE TABLE events (
    position INTEGER PRIMARY KEY,
    stream TEXT NOT NULL,
    version INTEGER NOT NULL,
    type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    data BLOB NOT NULL,
    recorded_at REAL NOT NULL,
    UNIQUE (stream, version)
)
"""
RAW_INSERT = "INSERT INTO events (stream, version, type, schema_version, data, recorded_at) VALUES (?, ?, ?, ?, ?, ?)"
RAW_SELECT = "SELECT type, schema_version, data FROM events ORDER BY position"

Row = tuple[str, int, str, int, bytes, float]


@frozen
class Limit:
    events: int
    batches: int
    append_seconds: float
    read_decode_seconds: float

    @property
    def append_events_per_s(self) -> float:
        return self.events / self.append_seconds

    @property
    def read_decode_events_per_s(self) -> float:
        return self.events / self.read_decode_seconds


def recorded_batches(db: str, stream: str) -> list[list[Row]]:
    """The rows of ``stream`` grouped as they were appended: the log stamps every event of one
    append with the same commit time, so a change of time is a new append."""
    log = open_log(db)
    try:
        stored = list(log.read(stream))
    finally:
        log.close()
    return [[_row(e) for e in batch] for _at, batch in itertools.groupby(stored, key=lambda e: e.recorded_at)]


def measure_limit(batches: list[list[Row]], path: Path) -> Limit:
    """Time the raw appends of ``batches`` into a new file at ``path``, then the raw read and
    decoding of every row, the second time they are read (the first builds the codec's
    converters and fills the caches)."""
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(RAW_SCHEMA)
        started = time.perf_counter()
        for batch in batches:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(RAW_INSERT, batch)
            conn.execute("COMMIT")
        append_seconds = time.perf_counter() - started
        _read_and_decode(conn)  # warm, as the readers compared with it are (bench/README.md)
        started = time.perf_counter()
        decoded = _read_and_decode(conn)
        read_seconds = time.perf_counter() - started
    finally:
        conn.close()
    return Limit(len(decoded), len(batches), append_seconds, read_seconds)


def log_append_seconds(batches: list[list[Row]], path: Path) -> float:
    """Time ``SqliteEventLog.append_batch`` of ``batches`` into a new log at ``path``: the
    store's own cost on top of the raw appends (expected-version checks, the streams table)."""
    calls = [_append_requests(batch) for batch in batches]
    path.unlink(missing_ok=True)
    with SqliteEventLog(path) as log:
        started = time.perf_counter()
        for requests in calls:
            log.append_batch(requests)
        return time.perf_counter() - started


def _append_requests(batch: list[Row]) -> list[AppendRequest]:
    """One request per stream of ``batch``, expecting the version the stream is at before it."""
    by_stream: dict[str, list[Row]] = {}
    for row in batch:
        by_stream.setdefault(row[0], []).append(row)
    # A stream's first batch expects version 0, which is NO_STREAM.
    return [
        (stream, [PendingEvent(row[2], row[3], row[4]) for row in rows], rows[0][1] - 1)
        for stream, rows in by_stream.items()
    ]


def _read_and_decode(conn: sqlite3.Connection) -> list[Event]:
    return [decode_raw(type_name, version, data) for type_name, version, data in conn.execute(RAW_SELECT)]


def _row(event: StoredEvent) -> Row:
    return (event.stream, event.version, event.type, event.schema_version, event.data, event.recorded_at)
