"""``SqlSnapshotStore``: snapshots in a ``snapshots`` table of an SQL database (the log's own
SQLite file, or the PostgreSQL database that holds the log).

The table is ``snapshots(stream, version, format, data, PRIMARY KEY(stream, version))``.
The store keeps to its own connection (SQLite) or pool connections (PostgreSQL), so it
never shares a transaction with the event log (whose tables it does not touch) or with a
projector. Rows of another format are ignored when reading and deleted when the stream is
next saved.

Read-only (``read_only=True``): the table is read as it is (none: no snapshots) and
``save`` and ``delete`` raise :class:`StoreError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from aether.projections.read_model_base import TableSpec
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
from aether.store.sql_database import SqlDatabase, SqlSession

SNAPSHOTS = TableSpec(
    "snapshots",
    (
        ("stream", "TEXT NOT NULL"),
        ("version", "INTEGER NOT NULL"),
        ("format", "TEXT NOT NULL"),
        ("data", "BLOB NOT NULL"),
    ),
    ("stream", "version"),
)
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


class SqlSnapshotStore:
    """Snapshots in ``db``; safe for several threads, and for several processes sharing the
    database (the saves of one stream take turns)."""

    def __init__(
        self,
        db: SqlDatabase,
        *,
        keep: int | None = DEFAULT_KEEP,
        keep_every: int | None = None,
        format: str = SNAPSHOT_FORMAT,
        owns_db: bool = False,
    ) -> None:
        if keep is not None and keep < 1:
            raise ValueError(f"keep must be >= 1 or None, not {keep}")
        if keep_every is not None and keep_every < 1:
            raise ValueError(f"keep_every must be >= 1 or None, not {keep_every}")
        self.db = db
        self.keep = keep
        self.keep_every = keep_every
        # Overridable so tests can play an older Aether writing the same database.
        self.format = format
        self.read_only = db.read_only
        self._owns_db = owns_db
        self._closed = False
        if self.read_only:
            self._has_table = SNAPSHOTS.name in db.table_names()
            return
        self._has_table = True
        if SNAPSHOTS.name not in db.table_names():
            with db.transaction(lock="aether.snapshots") as tx:
                for sql in db.dialect.create_table_sql(SNAPSHOTS, if_not_exists=True):
                    tx.execute(sql)
        self._upsert = db.dialect.upsert_sql(SNAPSHOTS)

    def save(
        self,
        stream: str,
        version: int,
        state: RunState,
        *,
        templates_snapshot: TemplatesSnapshot | None = None,
    ) -> None:
        check_version(version)
        data = dump_state(state, templates_snapshot)  # outside any lock: pickling can be slow
        with self._transaction(stream) as tx:
            tx.execute(self._upsert, (stream, version, self.format, data))
            tx.execute(_PRUNE_FORMAT, (stream, self.format))
            if self.keep is not None and self.keep_every is not None:
                tx.execute(_PRUNE_OLD_KEEPING_MILESTONES, (stream, stream, self.keep, stream, self.keep_every))
            elif self.keep is not None:
                tx.execute(_PRUNE_OLD, (stream, stream, self.keep))

    def latest(self, stream: str, at_or_before: int | None = None) -> tuple[int, RunState] | None:
        high = at_or_before if at_or_before is not None else 2**62
        if not self._has_table:
            return None
        db = self._open()
        versions = [row[0] for row in db.fetchall(_CANDIDATES, (stream, self.format, high))]
        # One blob at a time: a stream may hold several large snapshots and usually the
        # newest is usable.
        for version in versions:
            row = db.fetchone(_DATA, (stream, version, self.format))
            if row is None:  # deleted meanwhile
                continue
            try:
                return version, load_state(bytes(row[0]))
            except SnapshotUnusable:
                continue
        return None

    def delete(self, stream: str) -> None:
        with self._transaction(stream) as tx:
            tx.execute("DELETE FROM snapshots WHERE stream = ?", (stream,))

    def versions(self, stream: str) -> list[tuple[int, str]]:
        """(version, format) of every stored snapshot of ``stream``, oldest first."""
        if not self._has_table:
            return []
        rows = self._open().fetchall(
            "SELECT version, format FROM snapshots WHERE stream = ? ORDER BY version", (stream,)
        )
        return [(int(v), str(f)) for v, f in rows]

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._owns_db:
                self.db.close()

    def __enter__(self) -> SqlSnapshotStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self, stream: str) -> Iterator[SqlSession]:
        if self.read_only:
            raise StoreError(f"cannot change the snapshots of {self.db.describe()!r}: the database is open read-only")
        with self._open().transaction(lock=f"aether.snapshots:{stream}") as tx:
            yield tx

    def _open(self) -> SqlDatabase:
        if self._closed:
            raise ValueError(f"the snapshot store {self.db.describe()!r} is closed")
        return self.db
