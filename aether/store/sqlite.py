"""The SQLite ``EventLog``: the embedded default.

Layout (see :mod:`aether.store.migrations`): ``events`` holds one row per event with
``position INTEGER PRIMARY KEY`` and ``UNIQUE(stream, version)``; ``streams`` holds each
stream's current version so ``stream_version`` is one key lookup.

Writing. Every append runs in one ``BEGIN IMMEDIATE`` transaction: the write lock is
taken *before* the expected versions are read, so the check and the insert are atomic
even against another process appending to the same file (a deferred transaction would
read a snapshot that another process could invalidate before our write). The lock also
makes positions (the rowid, max+1) follow commit order: no reader can ever see position
``p + 1`` before ``p``. ``append_batch`` is group commit: many streams, one transaction,
one WAL sync. Inside one process a mutex serializes the threads that share the
connection; between processes SQLite's lock does, and ``busy_timeout`` makes a second
process wait for it instead of failing with "database is locked".

Durability. The file runs in WAL mode. ``synchronous`` defaults to ``NORMAL``: in WAL mode
a commit appends to the WAL without an fsync (the WAL is synced at checkpoints), so a
commit that returned survives a crash or SIGKILL of the process (the OS holds the pages)
and the database is never corrupted, but the last commits before a power loss or OS
crash may be rolled back. ``FULL`` fsyncs the WAL on every commit and survives power
loss too, at the cost of one fsync per transaction (group commit with ``append_batch``
amortises it). ``OFF`` and ``EXTRA`` are accepted for completeness.

Read-only (``read_only=True``): the file is opened with ``mode=ro``, is neither migrated
nor switched to WAL, and every write raises :class:`StoreError`; a schema other than the
one this code knows is refused, since it could only be brought up to date by writing.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlite_utils import Database

from aether.store.base import AppendRequest, PendingEvent, StoreError
from aether.store.coordination import Claim, refuse_taken
from aether.store.memory import plan_appends
from aether.store.migrations import LATEST_VERSION, migrate, schema_version
from aether.store.sql_log_reads import SqlLogReads
from aether.store.sqlite_coordination import SqliteCoordination, check_fence, insert_claims
from aether.store.sqlite_read_only import connect_read_only
from aether.store.sqlite_task_logs import SqliteTaskLogs
from aether.store.sqlite_task_queue import SqliteTaskQueue

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")

# Bound parameters per statement when looking up a batch's streams (SQLite's default
# limit is 32766 since 3.32, 999 before).
_MAX_PARAMS = 500

_INSERT_EVENT = (
    "INSERT INTO events (stream, version, type, schema_version, data, recorded_at) VALUES (?, ?, ?, ?, ?, ?)"
)
_UPSERT_STREAM = (
    "INSERT INTO streams (stream, version) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET version = excluded.version"
)


class SqliteEventLog(SqlLogReads):
    """An ``EventLog`` in one SQLite file, safe for several threads and several processes."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 10_000,
        clock: Callable[[], float] = time.time,
        read_only: bool = False,
    ) -> None:
        mode = synchronous.upper()
        if mode not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}, not {synchronous!r}")
        if busy_timeout_ms < 0:
            raise ValueError(f"busy_timeout_ms must be >= 0, not {busy_timeout_ms}")
        self.path = os.fspath(path)
        self.synchronous = mode
        self._clock = clock
        self.read_only = read_only
        self._lock = threading.Lock()
        try:
            conn = (
                connect_read_only(self.path, busy_timeout_ms=busy_timeout_ms)
                if read_only
                # isolation_level=None: the driver opens no implicit transactions, so the
                # BEGIN IMMEDIATE / COMMIT below are the only ones. check_same_thread=False:
                # the mutex above, not the driver, keeps threads off each other.
                else sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
                )
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the event log {self.path!r}: {exc}") from exc
        try:
            db = Database(conn, execute_plugins=False)
            if read_only:
                _check_current_schema(db, self.path)
            else:
                conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
                db.enable_wal()
                conn.execute(f"PRAGMA synchronous = {mode}")
                migrate(db, clock)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot open the event log {self.path!r}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn
        self._coordination = SqliteCoordination(self)
        self._task_queue = SqliteTaskQueue(self)
        self._task_logs = SqliteTaskLogs(self)

    # -- writing -------------------------------------------------------------------------

    def append(self, stream: str, events: Sequence[PendingEvent], expected_version: int) -> int:
        return self.append_batch([(stream, events, expected_version)])[0]

    def append_batch(
        self, requests: Sequence[AppendRequest], *, fence: str | None = None, claims: Sequence[Claim] = ()
    ) -> list[int]:
        """Append every request in one transaction; see :class:`aether.store.base.EventLog`.

        An empty request (no events) writes nothing but its expected version is still
        checked, so a caller can assert a stream has not moved.
        """
        requests = list(requests)  # iterated several times below
        writes = any(events for _, events, _ in requests)
        # Nothing to write: a read transaction gives one consistent snapshot for the
        # checks without queueing for the write lock.
        with self.transaction(write=writes or bool(claims), doing="append") as conn:
            if fence is not None:
                check_fence(conn, fence)
            if claims:
                refuse_taken(claims, insert_claims(conn, claims))
            known = self._committed_versions(conn, {stream for stream, _, _ in requests})
            plans, versions = plan_appends(requests, lambda stream: known.get(stream, 0))
            if writes:
                at = self._clock()  # commit time, shared by the batch
                conn.executemany(
                    _INSERT_EVENT,
                    [
                        (plan.stream, plan.first_version + i, e.type, e.schema_version, e.data, at)
                        for plan in plans
                        for i, e in enumerate(plan.events)
                    ],
                )
                touched = {plan.stream for plan in plans if plan.events}
                conn.executemany(_UPSERT_STREAM, [(s, versions[s]) for s in touched])
        return [plan.new_version for plan in plans]

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True, doing: str = "write") -> Iterator[sqlite3.Connection]:
        """One transaction on the log's connection (``BEGIN IMMEDIATE`` to write), under
        the connection's mutex: committed when the block ends, rolled back if it raises.
        The coordination tables are written this way too, and the append's fence is read
        inside it, so the two are serialized like any other pair of writers."""
        if write and self.read_only:
            raise StoreError(f"cannot {doing} on {self.path!r}: the event log is open read-only")
        with self._lock:
            conn = self._open_conn()
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot start a transaction on {self.path!r}: {exc}") from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                self._rollback(conn)
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"{doing} on {self.path!r} failed, nothing written: {exc}") from exc
                raise

    @property
    def coordination(self) -> SqliteCoordination:
        """Members, run leases and claims, kept in this file."""
        return self._coordination

    @property
    def task_queue(self) -> SqliteTaskQueue:
        """Assignments and worker reports for workers in other processes, kept in this file."""
        return self._task_queue

    @property
    def task_logs(self) -> SqliteTaskLogs:
        """What tasks wrote to stdout and stderr, by attempt, kept in this file."""
        return self._task_logs

    @staticmethod
    def _committed_versions(conn: sqlite3.Connection, streams: set[str]) -> dict[str, int]:
        """The versions of ``streams`` that exist, a few queries for a whole batch."""
        names = [s for s in streams if isinstance(s, str)]  # plan_appends reports the rest
        found: dict[str, int] = {}
        for i in range(0, len(names), _MAX_PARAMS):
            chunk = names[i : i + _MAX_PARAMS]
            marks = ", ".join("?" * len(chunk))
            found.update(conn.execute(f"SELECT stream, version FROM streams WHERE stream IN ({marks})", chunk))
        return found

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            # A failure here means SQLite already rolled back (e.g. after an I/O error).
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    # -- reading -------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        # fetchall under the lock: an unfinished cursor would keep a read transaction
        # open, which pins the WAL and blocks checkpoints.
        with self._lock:
            conn = self._open_conn()
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"reading {self.path!r} failed: {exc}") from exc

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent); any later call raises :class:`StoreError`."""
        with self._lock:
            if self._conn is None:
                return
            conn, self._conn = self._conn, None
            conn.close()

    def __enter__(self) -> SqliteEventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open_conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the event log {self.path!r} is closed")
        return self._conn

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else "open"
        access = ", read-only" if self.read_only else ""
        return f"SqliteEventLog({self.path!r}, synchronous={self.synchronous!r}{access}, {state})"


def _check_current_schema(db: Database, path: str) -> None:
    """Refuse, read-only, a file whose schema this code cannot read as it is: bringing an
    older one up to date means writing, and a newer one may hold what this code ignores."""
    found = schema_version(db)
    if found == LATEST_VERSION:
        return
    if found == 0:
        raise StoreError(f"{path!r} holds no Aether event log, and it is open read-only: nothing to read")
    if found < LATEST_VERSION:
        raise StoreError(
            f"the event log's schema is version {found}, older than this Aether's {LATEST_VERSION}, and it is open "
            "read-only: open it once with write access so it is upgraded"
        )
    raise StoreError(
        f"the event log's schema is version {found}, but this Aether knows only up to version {LATEST_VERSION}: "
        "upgrade Aether to open it"
    )
