"""``SqliteSnapshotStore``: snapshots in a ``snapshots`` table of the log's own SQLite file.

The table is ``snapshots(stream, version, format, data, PRIMARY KEY(stream, version))``.
The store opens its own connection, so it never shares a transaction with the event log
(whose tables it does not touch) or with a projector. Rows of another format are
ignored when reading and deleted when the stream is next saved.

Read-only (``read_only=True``): the table is read as it is (none: no snapshots) and
``save`` and ``delete`` raise :class:`StoreError`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator

from aether.projections.snapshots import (
    DEFAULT_KEEP,
    SNAPSHOT_FORMAT,
    SnapshotUnusable,
    TemplatesSnapshot,
    check_version,
    dump_state,
    load_state,
)
from aether.reducers.state import RunState
from aether.store.base import StoreError
from aether.store.sqlite_read_only import connect_read_only

_CREATE = """
CREATE TABLE IF NOT EXISTS snapshots (
    stream TEXT NOT NULL,
    version INTEGER NOT NULL,
    format TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (stream, version)
)
"""
_UPSERT = "INSERT OR REPLACE INTO snapshots (stream, version, format, data) VALUES (?, ?, ?, ?)"
_PRUNE_FORMAT = "DELETE FROM snapshots WHERE stream = ? AND format != ?"
_PRUNE_OLD = (
    "DELETE FROM snapshots WHERE stream = ? AND version NOT IN "
    "(SELECT version FROM snapshots WHERE stream = ? ORDER BY version DESC LIMIT ?)"
)
# Milestones for time travel: the earliest snapshot of every ``keep_every`` events stays, so a
# point anywhere in a long run has a snapshot at most one bucket behind it.
_PRUNE_OLD_KEEPING_MILESTONES = (
    "DELETE FROM snapshots WHERE stream = ? AND version NOT IN "
    "(SELECT version FROM snapshots WHERE stream = ? ORDER BY version DESC LIMIT ?) "
    "AND version NOT IN (SELECT MIN(version) FROM snapshots WHERE stream = ? GROUP BY version / ?)"
)
_CANDIDATES = "SELECT version FROM snapshots WHERE stream = ? AND format = ? AND version <= ? ORDER BY version DESC"
_DATA = "SELECT data FROM snapshots WHERE stream = ? AND version = ? AND format = ?"


class SqliteSnapshotStore:
    """Snapshots in an SQLite file; safe for several threads (one lock, one connection)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        keep: int | None = DEFAULT_KEEP,
        keep_every: int | None = None,
        format: str = SNAPSHOT_FORMAT,
        busy_timeout_ms: int = 10_000,
        read_only: bool = False,
    ) -> None:
        if keep is not None and keep < 1:
            raise ValueError(f"keep must be >= 1 or None, not {keep}")
        if keep_every is not None and keep_every < 1:
            raise ValueError(f"keep_every must be >= 1 or None, not {keep_every}")
        self.path = os.fspath(path)
        self.keep = keep
        self.keep_every = keep_every
        # Overridable so tests can play an older Aether writing the same file.
        self.format = format
        self.read_only = read_only
        self._lock = threading.Lock()
        self._has_table = True
        if read_only:
            self._conn: sqlite3.Connection | None = self._open_read_only(busy_timeout_ms)
            return
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode = WAL")
            # A cache of the log: a commit need not survive power loss.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(_CREATE)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _open_read_only(self, busy_timeout_ms: int) -> sqlite3.Connection:
        try:
            conn = connect_read_only(self.path, busy_timeout_ms=busy_timeout_ms)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the snapshots of {self.path!r}: {exc}") from exc
        try:
            found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'snapshots'").fetchone()
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot read the snapshots of {self.path!r}: {exc}") from exc
        self._has_table = found is not None
        return conn

    def save(
        self,
        stream: str,
        version: int,
        state: RunState,
        *,
        templates_snapshot: TemplatesSnapshot | None = None,
    ) -> None:
        check_version(version)
        data = dump_state(state, templates_snapshot)  # outside the lock: pickling can be slow
        with self._transaction() as conn:
            conn.execute(_UPSERT, (stream, version, self.format, data))
            conn.execute(_PRUNE_FORMAT, (stream, self.format))
            if self.keep is not None and self.keep_every is not None:
                conn.execute(_PRUNE_OLD_KEEPING_MILESTONES, (stream, stream, self.keep, stream, self.keep_every))
            elif self.keep is not None:
                conn.execute(_PRUNE_OLD, (stream, stream, self.keep))

    def latest(self, stream: str, at_or_before: int | None = None) -> tuple[int, RunState] | None:
        high = at_or_before if at_or_before is not None else 2**62
        if not self._has_table:
            return None
        with self._lock:
            versions = [row[0] for row in self._open().execute(_CANDIDATES, (stream, self.format, high))]
        # One blob at a time: a stream may hold several large snapshots and usually the
        # newest is usable.
        for version in versions:
            with self._lock:
                row = self._open().execute(_DATA, (stream, version, self.format)).fetchone()
            if row is None:  # deleted meanwhile
                continue
            try:
                return version, load_state(row[0])
            except SnapshotUnusable:
                continue
        return None

    def delete(self, stream: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM snapshots WHERE stream = ?", (stream,))

    def versions(self, stream: str) -> list[tuple[int, str]]:
        """(version, format) of every stored snapshot of ``stream``, oldest first."""
        if not self._has_table:
            return []
        with self._lock:
            rows = self._open().execute(
                "SELECT version, format FROM snapshots WHERE stream = ? ORDER BY version", (stream,)
            )
            return [(int(v), str(f)) for v, f in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> SqliteSnapshotStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise StoreError(f"cannot change the snapshots of {self.path!r}: the database is open read-only")
        with self._lock:
            conn = self._open()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError(f"the snapshot store {self.path!r} is closed")
        return self._conn
