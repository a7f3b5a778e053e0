"""``SqliteSnapshotStore``: snapshots in a ``snapshots`` table of the log's own SQLite file
(the table and its SQL: :mod:`aether.store.sql_snapshots`).

The store opens its own connection, so it never shares a transaction with the event log
or with a projector. Read-only (``read_only=True``): the file is opened for reading
(``aether.store.sqlite_read_only``), the table read as it is, and ``save`` and
``delete`` raise :class:`StoreError`.
"""

from __future__ import annotations

import os
import sqlite3

from aether.projections.snapshots import DEFAULT_KEEP, SNAPSHOT_FORMAT
from aether.store.base import StoreError
from aether.store.sql_database import SqliteDatabase
from aether.store.sql_snapshots import SqlSnapshotStore


class SqliteSnapshotStore(SqlSnapshotStore):
    """Snapshots in the SQLite file at ``path``; safe for several threads."""

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
        self.path = os.fspath(path)
        try:
            db = SqliteDatabase.open(path, busy_timeout_ms=busy_timeout_ms, read_only=read_only)
        except sqlite3.Error as exc:
            if not read_only:
                raise
            raise StoreError(f"cannot open the snapshots of {self.path!r}: {exc}") from exc
        try:
            super().__init__(db, keep=keep, keep_every=keep_every, format=format, owns_db=True)
        except sqlite3.Error as exc:
            db.close()
            if not read_only:
                raise
            raise StoreError(f"cannot read the snapshots of {self.path!r}: {exc}") from exc
        except BaseException:
            db.close()
            raise
