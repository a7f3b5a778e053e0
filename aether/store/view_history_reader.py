"""Time travel, the store's part: reading points of runs from the SQLite view history
(the tables ``aether.projections.view_history`` fills).

A point of a run is read, not refolded: the newest checkpoint at or before it (its
pages of node views), the node changes recorded after that checkpoint up to the point,
and the run's own fields as last recorded. The work grows with the size of the answer
and the checkpoint interval, not with the length of the run.

The reader has its own connection: it only reads, and a projector writing on another
connection never shows it half a batch (SQLite WAL gives each read a consistent view).
"""

from __future__ import annotations

import os
import sqlite3
import threading

import orjson

from aether.projections.view_at import ViewAt, ViewHistoryGap, apply_view_changes
from aether.projections.view_history import read_page
from aether.store.sqlite_read_only import connect_read_only

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
    """Reads points of runs from the view history tables of an SQLite file."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_ms: int = 10_000, read_only: bool = False) -> None:
        self.path = os.fspath(path)
        # Read-only: opened with ``mode=ro`` (the file may not be writable at all).
        self.read_only = read_only
        self._busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def view_at(self, run_id: str, version: int) -> ViewAt | None:
        """The run as it stood right after event ``version``; None before its first event
        or for a run the history does not know."""
        with self._lock:
            conn = self._open()
            # One read transaction: the checkpoint, its pages and the changes agree.
            conn.execute("BEGIN")
            try:
                return self._view_at(conn, run_id, version)
            finally:
                conn.execute("COMMIT")

    def changed_nodes(self, run_id: str, after: int, up_to: int) -> list[int]:
        """Creation seqs of the nodes whose views changed in versions ``after+1..up_to``."""
        with self._lock:
            rows = self._open().execute(_CHANGED_NODES, (run_id, after, up_to)).fetchall()
        return [int(row[0]) for row in rows]

    def first_version_after(self, run_id: str, at_ms: int) -> int | None:
        """The first event whose input time is later than ``at_ms`` (None: no such event)."""
        with self._lock:
            row = self._open().execute(_CLOCK_PASSES, (run_id, at_ms)).fetchone()
        return int(row[0]) if row is not None else None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _view_at(self, conn: sqlite3.Connection, run_id: str, version: int) -> ViewAt | None:
        header = conn.execute(_HEADER, (run_id, version)).fetchone()
        if header is None:
            return None
        base: list[bytes] = []
        terminal, since = 0, 0
        checkpoint = conn.execute(_CHECKPOINT, (run_id, version)).fetchone()
        if checkpoint is not None:
            since, count, terminal, page_size = checkpoint
            pages = -(-count // page_size)
            rows = conn.execute(_PAGES, (run_id, page_size, pages, since, run_id, page_size))
            for expected, (page, views) in enumerate(rows):
                if page != expected:
                    raise ViewHistoryGap(f"run {run_id}: page {expected} of checkpoint {since} is missing")
                base.extend(read_page(views))
            if len(base) != count:
                raise ViewHistoryGap(f"run {run_id}: checkpoint {since} holds {len(base)} of {count} nodes")
        changes = conn.execute(_CHANGES, (run_id, since, version))
        tasks, terminal = apply_view_changes(base, terminal, ((seq, bytes(change)) for seq, change in changes))
        return ViewAt(orjson.loads(header[0]), tasks, terminal)

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            if self.read_only:
                conn = connect_read_only(self.path, busy_timeout_ms=self._busy_timeout_ms)
            else:
                conn = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=self._busy_timeout_ms / 1000
                )
                conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            self._conn = conn
        return self._conn
