"""The PostgreSQL ``EventLog``: one database shared by engines and workers on several machines.

Layout (see :mod:`aether.store.postgres_migrations`): ``events`` holds one row per event
with ``position BIGINT PRIMARY KEY`` and ``UNIQUE (stream, version)``; ``streams`` holds
each stream's current version. The semantics are :class:`aether.store.sqlite.SqliteEventLog`'s,
with the same errors.

Writing. Every append is one transaction that first takes the advisory lock
:data:`APPEND_LOCK` (``pg_advisory_xact_lock``, held until commit), and only then reads the
expected versions and the highest position. Appenders of every process therefore queue
for the lock, the version check and the insert are atomic, and positions (max + 1) become
visible in commit order: the next appender cannot read the highest position before the
previous one committed, so a reader paging with ``read_all(after_position)`` never sees
position ``p + 1`` while ``p`` is still to come. ``append_batch`` is group commit: all
its events are inserted by one statement, whatever the number of streams.

Fencing. With a ``fence``, the member's row is read ``FOR KEY SHARE`` in the append's
transaction: a concurrent removal of the member waits for the append to commit, or has
committed and the append raises :class:`~aether.store.coordination.Fenced` and writes
nothing.

Waking readers. Every append that writes also sends ``NOTIFY aether_events, '<last
position>'`` in its transaction, delivered when it commits; see
:mod:`aether.store.postgres_notify`. A notification is a hint to re-read, never the data.

Connections come from a pool, so threads sharing one log object do not queue for a single
connection; each call checks one out for the length of its transaction or query.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from aether.store.base import AppendRequest, PendingEvent, StoreError
from aether.store.coordination import Claim, refuse_taken
from aether.store.memory import PlannedAppend, plan_appends
from aether.store.postgres_connect import connect, is_postgres_url, pool, redacted
from aether.store.postgres_coordination import PostgresCoordination, check_fence, insert_claims
from aether.store.postgres_migrations import migrate
from aether.store.postgres_task_logs import PostgresTaskLogs
from aether.store.postgres_task_queue import PostgresTaskQueue
from aether.store.sql_log_reads import SqlLogReads

# The channel every append notifies, with the log's last position as payload.
EVENTS_CHANNEL = "aether_events"
# The advisory lock (per database) that serializes appenders; see the module docstring.
APPEND_LOCK = 0x41657468_00000002
DEFAULT_POOL_SIZE = 8

Connection = psycopg.Connection[Any]

_LOCK_APPENDS = "SELECT pg_advisory_xact_lock(%s)"
# One statement writes a batch: its events, its streams' versions and the notification.
# Positions follow the batch's order (WITH ORDINALITY) after the highest committed one,
# read inside this statement, after the lock was taken. The arrays travel in binary (%b):
# no quoting or escaping of a thousand values on either side.
_WRITE_BATCH = (
    "WITH appended AS ("
    " INSERT INTO events (position, stream, version, type, schema_version, data, recorded_at)"
    " SELECT last.position + e.n, e.stream, e.version, e.type, e.schema_version, e.data, %b"
    " FROM (SELECT coalesce(max(position), 0) AS position FROM events) AS last,"
    " unnest(%b::text[], %b::bigint[], %b::text[], %b::integer[], %b::bytea[])"
    " WITH ORDINALITY AS e(stream, version, type, schema_version, data, n)"
    " RETURNING position),"
    " moved AS ("
    " INSERT INTO streams (stream, version) SELECT * FROM unnest(%b::text[], %b::bigint[])"
    " ON CONFLICT (stream) DO UPDATE SET version = excluded.version)"
    " SELECT pg_notify(%s, (SELECT max(position) FROM appended)::text)"
)
_SELECT_VERSIONS = "SELECT stream, version FROM streams WHERE stream = ANY(%s)"


class PostgresEventLog(SqlLogReads):
    """An ``EventLog`` in one PostgreSQL database, safe for several threads, processes and machines."""

    PLACEHOLDER = "%s"

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        if not is_postgres_url(url):
            raise StoreError(f"not a PostgreSQL URL: {redacted(str(url))!r} (write postgresql://...)")
        if pool_size < 1:
            raise ValueError(f"pool_size must be >= 1, not {pool_size}")
        self.url = url
        self._clock = clock
        self._where = redacted(url)
        self._state = threading.Lock()
        # One plain connection first: a server that refuses it fails at once with the
        # driver's reason, where a pool would retry until its timeout.
        with connect(url) as conn:
            try:
                migrate(conn, clock)
            except psycopg.Error as exc:
                raise StoreError(f"cannot open the event log {self._where}: {_first_line(exc)}") from exc
        self._pool: ConnectionPool | None = pool(url, min_size=1, max_size=pool_size, name="aether-event-log")
        self._coordination = PostgresCoordination(self)
        self._task_queue = PostgresTaskQueue(self)
        self._task_logs = PostgresTaskLogs(self)

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
        with self.transaction(doing="append") as conn:
            if writes:
                # Nothing to write: the checks need no place in the appenders' queue.
                conn.execute(_LOCK_APPENDS, (APPEND_LOCK,))
            if fence is not None:
                check_fence(conn, fence)
            if claims:
                refuse_taken(claims, insert_claims(conn, claims))
            known = self._committed_versions(conn, {stream for stream, _, _ in requests})
            plans, versions = plan_appends(requests, lambda stream: known.get(stream, 0))
            if writes:
                self._write(conn, plans, versions)
        return [plan.new_version for plan in plans]

    def _write(self, conn: Connection, plans: list[PlannedAppend], versions: dict[str, int]) -> None:
        streams: list[str] = []
        numbers: list[int] = []
        types: list[str] = []
        schema_versions: list[int] = []
        payloads: list[bytes] = []
        for plan in plans:
            for offset, event in enumerate(plan.events):
                streams.append(plan.stream)
                numbers.append(plan.first_version + offset)
                types.append(event.type)
                schema_versions.append(event.schema_version)
                payloads.append(event.data)
        touched = sorted({plan.stream for plan in plans if plan.events})
        at = self._clock()  # commit time, shared by the batch
        conn.execute(
            _WRITE_BATCH,
            (
                at,
                streams,
                numbers,
                types,
                schema_versions,
                payloads,
                touched,
                [versions[s] for s in touched],
                EVENTS_CHANNEL,
            ),
        )

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True, doing: str = "write") -> Iterator[Connection]:
        """One transaction on a pooled connection: committed when the block ends, rolled
        back if it raises. The coordination tables are written this way too, and an append's
        fence is read inside its transaction. ``write`` is accepted for symmetry with
        :meth:`aether.store.sqlite.SqliteEventLog.transaction`: PostgreSQL needs no write
        lock up front."""
        with self._connection(f"{doing} on {self._where} failed, nothing written") as conn, conn.transaction():
            yield conn

    @property
    def coordination(self) -> PostgresCoordination:
        """Members, run leases and claims, kept in this database."""
        return self._coordination

    @property
    def task_queue(self) -> PostgresTaskQueue:
        """Assignments and worker reports, for workers on any machine, kept in this database."""
        return self._task_queue

    @property
    def task_logs(self) -> PostgresTaskLogs:
        """What tasks wrote to stdout and stderr, by attempt, kept in this database."""
        return self._task_logs

    @staticmethod
    def _committed_versions(conn: Connection, streams: set[str]) -> dict[str, int]:
        names = [s for s in streams if isinstance(s, str)]  # plan_appends reports the rest
        if not names:
            return {}
        return {stream: int(version) for stream, version in conn.execute(_SELECT_VERSIONS, (names,))}

    # -- reading -------------------------------------------------------------------------

    def run_statement(self, sql: str, params: Any, *, doing: str) -> list[Any]:
        """Run one statement as a transaction of its own (autocommit: one round trip, with
        no BEGIN and COMMIT around it) and return its rows, for the other tables' adapters
        whose work fits one statement."""
        with self._connection(f"{doing} on {self._where} failed, nothing written") as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else []

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with self._connection(f"reading {self._where} failed") as conn:
            return conn.execute(sql, params).fetchall()

    @contextlib.contextmanager
    def _connection(self, failure: str) -> Iterator[Connection]:
        """A pooled connection for one call; a driver error becomes a :class:`StoreError`
        that starts with ``failure``."""
        connections = self._pool
        if connections is None:
            raise StoreError(f"the event log {self._where} is closed")
        try:
            with connections.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            if self._pool is None:
                raise StoreError(f"the event log {self._where} is closed") from exc
            raise StoreError(f"{failure}: {_first_line(exc)}") from exc

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the pool (idempotent); any later call raises :class:`StoreError`."""
        with self._state:
            connections, self._pool = self._pool, None
        if connections is not None:
            connections.close()

    def __enter__(self) -> PostgresEventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._pool is None else "open"
        return f"PostgresEventLog({self._where!r}, {state})"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


__all__ = ["APPEND_LOCK", "EVENTS_CHANNEL", "PostgresEventLog"]
