"""Time travel, the store's part: reading points of runs from the view history (the
tables ``aether.projections.view_history`` fills, in SQLite or PostgreSQL).

A point of a run is read, not refolded: the newest checkpoint at or before it (its
pages of node views), the node changes recorded after that checkpoint up to the point,
and the run's own fields as last recorded. The work grows with the size of the answer
and the checkpoint interval, not with the length of the run: every query is a range of a
primary key (or of ``run_clock``'s time index) of one run.

The reader reads in one snapshot per point (``SqlDatabase.snapshot``), so a projector
writing meanwhile never shows it half a batch. Given a path or URL it opens a connection
(or pool) of its own.
"""

from __future__ import annotations

import os
import threading

import orjson

from aether.projections.view_at import ViewAt, ViewHistoryGap, apply_view_changes
from aether.projections.view_history import read_page
from aether.store.postgres_connect import is_postgres_url
from aether.store.sql_database import PostgresDatabase, SqlDatabase, SqliteDatabase, SqlSession

_HEADER = "SELECT header FROM run_view_history WHERE run_id = ? AND version <= ? ORDER BY version DESC LIMIT 1"
_CHECKPOINT = (
    "SELECT version, node_count, terminal, page_size FROM view_checkpoints "
    "WHERE run_id = ? AND version <= ? ORDER BY version DESC LIMIT 1"
)
# The newest row of every page as of the checkpoint: pages unchanged since an earlier
# checkpoint were not written again.
_PAGES = (
    "SELECT p.page, p.compressed_views FROM view_pages AS p JOIN ("
    "  SELECT page, max(version) AS version FROM view_pages"
    "  WHERE run_id = ? AND page_size = ? AND page < ? AND version <= ? GROUP BY page"
    ") AS newest ON p.page = newest.page AND p.version = newest.version "
    "WHERE p.run_id = ? AND p.page_size = ? ORDER BY p.page"
)
_CHANGES = (
    "SELECT seq, change FROM node_view_history WHERE run_id = ? AND version > ? AND version <= ? ORDER BY version, seq"
)
_CHANGED_NODES = (
    "SELECT DISTINCT seq FROM node_view_history WHERE run_id = ? AND version > ? AND version <= ? ORDER BY seq"
)
_CLOCK_PASSES = "SELECT version FROM run_clock WHERE run_id = ? AND at_ms > ? ORDER BY at_ms LIMIT 1"


class ViewHistoryReader:
    """Reads points of runs from the view history tables of an SQLite file or a PostgreSQL
    database (``source`` a path or URL, opened on first use), or of an open database
    (shared: the reader does not close it)."""

    def __init__(
        self, source: str | os.PathLike[str] | SqlDatabase, *, busy_timeout_ms: int = 10_000, read_only: bool = False
    ) -> None:
        # Read-only: opened with ``mode=ro`` (the file may not be writable at all).
        self.read_only = read_only
        self._busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()
        if isinstance(source, str | os.PathLike):
            self.path: str | None = os.fspath(source)
            self._db: SqlDatabase | None = None
        else:
            self.path = None
            self._db = source

    def view_at(self, run_id: str, version: int) -> ViewAt | None:
        """The run as it stood right after event ``version``; None before its first event
        or for a run the history does not know."""
        # One read transaction: the checkpoint, its pages and the changes agree.
        with self._open().snapshot() as session:
            return self._view_at(session, run_id, version)

    def changed_nodes(self, run_id: str, after: int, up_to: int) -> list[int]:
        """Creation seqs of the nodes whose views changed in versions ``after+1..up_to``."""
        return [int(row[0]) for row in self._open().fetchall(_CHANGED_NODES, (run_id, after, up_to))]

    def first_version_after(self, run_id: str, at_ms: int) -> int | None:
        """The first event whose input time is later than ``at_ms`` (None: no such event)."""
        row = self._open().fetchone(_CLOCK_PASSES, (run_id, at_ms))
        return int(row[0]) if row is not None else None

    def close(self) -> None:
        with self._lock:
            if self._db is not None and self.path is not None:
                self._db.close()
                self._db = None

    def _view_at(self, session: SqlSession, run_id: str, version: int) -> ViewAt | None:
        header = session.fetchone(_HEADER, (run_id, version))
        if header is None:
            return None
        base: list[bytes] = []
        terminal, since = 0, 0
        checkpoint = session.fetchone(_CHECKPOINT, (run_id, version))
        if checkpoint is not None:
            since, count, terminal, page_size = checkpoint
            pages = -(-count // page_size)
            rows = session.fetchall(_PAGES, (run_id, page_size, pages, since, run_id, page_size))
            for expected, (page, views) in enumerate(rows):
                if page != expected:
                    raise ViewHistoryGap(f"run {run_id}: page {expected} of checkpoint {since} is missing")
                base.extend(read_page(views))
            if len(base) != count:
                raise ViewHistoryGap(f"run {run_id}: checkpoint {since} holds {len(base)} of {count} nodes")
        changes = session.fetchall(_CHANGES, (run_id, since, version))
        tasks, terminal = apply_view_changes(base, terminal, ((seq, bytes(change)) for seq, change in changes))
        return ViewAt(orjson.loads(header[0]), tasks, terminal)

    def _open(self) -> SqlDatabase:
        with self._lock:
            if self._db is None:
                assert self.path is not None, "a reader of a shared database is never closed by itself"
                if is_postgres_url(self.path):
                    self._db = PostgresDatabase(self.path)
                else:
                    self._db = SqliteDatabase.open(
                        self.path, busy_timeout_ms=self._busy_timeout_ms, read_only=self.read_only, wal=False
                    )
            return self._db
