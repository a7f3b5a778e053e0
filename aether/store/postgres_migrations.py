"""Schema of the PostgreSQL event log: a version table and the ordered migrations that reach it.

``aether_schema`` holds one row per applied migration, as in the SQLite file
(:mod:`aether.store.migrations`). Opening a log applies, in order, every migration newer
than the database's highest row, in one transaction that first takes an advisory lock
(:data:`MIGRATION_LOCK`): two processes opening a fresh database at once queue for it, and
the second finds the work done. PostgreSQL's DDL is transactional, so a failure
mid-migration leaves the previous schema intact. A database whose schema is newer than this
code knows is refused: old code writing into a newer layout could break invariants it does
not know about.

Names are compared byte-wise (``COLLATE "C"``): in UTF-8 that is code point order, the
order Python sorts in, whatever locale the database was created with.

A migration is append-only history, like the log: never edit a released one, add the next.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
from attrs import frozen

from aether.store.base import StoreError

SCHEMA_TABLE = "aether_schema"
# Advisory lock keys (one bigint each, per database). The high bytes spell "Aeth" so that
# they are unlikely to collide with another application's locks in the same database.
MIGRATION_LOCK = 0x41657468_00000001

Connection = psycopg.Connection[Any]


@frozen
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _create_event_tables(conn: Connection) -> None:
    # position is assigned max+1 by the appender holding the append lock (see
    # aether.store.postgres), and rows are never deleted, so positions follow commit order.
    conn.execute(
        "CREATE TABLE events ("
        " position BIGINT PRIMARY KEY,"
        ' stream TEXT COLLATE "C" NOT NULL,'
        " version BIGINT NOT NULL,"
        " type TEXT NOT NULL,"
        " schema_version INTEGER NOT NULL,"
        " data BYTEA NOT NULL,"
        " recorded_at DOUBLE PRECISION NOT NULL,"
        # The last line of defence against a duplicate version, and the index that
        # read(stream, from, to) walks.
        " CONSTRAINT events_stream_version UNIQUE (stream, version))"
    )
    # One row per stream with its current version: stream_version() is one key lookup and
    # streams(prefix) walks distinct names instead of every event.
    conn.execute('CREATE TABLE streams (stream TEXT COLLATE "C" PRIMARY KEY, version BIGINT NOT NULL)')


def _create_coordination_tables(conn: Connection) -> None:
    # Members, run leases and claims (aether.store.coordination): rows that change, unlike
    # the log, because they say who may act now, not what happened.
    conn.execute(
        "CREATE TABLE members (member_id TEXT PRIMARY KEY, role TEXT NOT NULL, host TEXT NOT NULL,"
        " pid BIGINT NOT NULL, locality TEXT NOT NULL, joined_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL)"
    )
    # seq orders leases by age (orphans are taken oldest first); owner NULL: released.
    conn.execute("CREATE TABLE run_leases (run_id TEXT PRIMARY KEY, owner TEXT, seq BIGINT NOT NULL)")
    conn.execute("CREATE INDEX run_leases_owner ON run_leases (owner)")
    conn.execute("CREATE INDEX run_leases_seq ON run_leases (seq)")
    # held = false once the attempt is settled: the row stays so the assignment is never
    # claimed again, until the run is released. claim_order stands for SQLite's rowid: the
    # order claims were recorded in.
    conn.execute(
        "CREATE TABLE claims (assignment_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, node_id TEXT NOT NULL,"
        " attempt INTEGER NOT NULL, worker_id TEXT NOT NULL, member_id TEXT NOT NULL,"
        " claimed_ms BIGINT NOT NULL, held BOOLEAN NOT NULL DEFAULT TRUE,"
        " claim_order BIGINT GENERATED ALWAYS AS IDENTITY)"
    )
    conn.execute("CREATE INDEX claims_run ON claims (run_id, claim_order)")


def _create_task_queue_tables(conn: Connection) -> None:
    # The task queue (aether.store.task_queue): seq is the dispatch order, taken_by the
    # member whose worker took the row (and holds its claim).
    conn.execute(
        "CREATE TABLE task_queue (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " assignment_id TEXT NOT NULL UNIQUE, run_id TEXT NOT NULL, node_id TEXT NOT NULL,"
        " attempt INTEGER NOT NULL, executor_type TEXT NOT NULL, priority INTEGER NOT NULL, payload BYTEA NOT NULL,"
        " taken_by TEXT, cancelled BOOLEAN NOT NULL DEFAULT FALSE)"
    )
    # What a worker looks for: waiting rows of its types, best priority, then oldest.
    conn.execute(
        "CREATE INDEX task_queue_waiting ON task_queue (executor_type, priority DESC, seq)"
        " WHERE taken_by IS NULL AND NOT cancelled"
    )
    conn.execute(
        "CREATE INDEX task_queue_best ON task_queue (priority DESC, seq) WHERE taken_by IS NULL AND NOT cancelled"
    )
    conn.execute("CREATE INDEX task_queue_run ON task_queue (run_id)")
    conn.execute(
        "CREATE TABLE task_reports (report_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " run_id TEXT NOT NULL, assignment_id TEXT NOT NULL, kind TEXT NOT NULL, payload BYTEA NOT NULL,"
        " reported_ms BIGINT NOT NULL)"
    )
    conn.execute("CREATE INDEX task_reports_run ON task_reports (run_id, report_id)")


def _create_task_log_table(conn: Connection) -> None:
    # Task logs (aether.store.task_logs): chunks of output, read by attempt in seq order.
    conn.execute(
        "CREATE TABLE task_logs (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, run_id TEXT NOT NULL,"
        " node_id TEXT NOT NULL, attempt INTEGER NOT NULL, seq BIGINT NOT NULL, stream TEXT NOT NULL,"
        " at_ms BIGINT NOT NULL, data BYTEA NOT NULL)"
    )
    conn.execute("CREATE INDEX task_logs_attempt ON task_logs (run_id, node_id, attempt, seq)")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "events and streams tables", _create_event_tables),
    Migration(2, "members, run leases and claims", _create_coordination_tables),
    Migration(3, "task queue and worker reports", _create_task_queue_tables),
    Migration(4, "task logs", _create_task_log_table),
)

LATEST_VERSION = MIGRATIONS[-1].version


def _check_ordered() -> None:
    # A gap or a reordering would skip or repeat a step on some database: fail at import.
    versions = [m.version for m in MIGRATIONS]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n in order: {versions}")


_check_ordered()


def schema_version(conn: Connection) -> int:
    """The database's schema version: the highest applied migration, 0 for a fresh one."""
    # A query on the catalog, not to_regclass(): a name lookup may answer from the
    # backend's cache of names it found missing, stale after another process migrated.
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relname = %s AND n.nspname = current_schema())",
        (SCHEMA_TABLE,),
    ).fetchone()
    if row is None or not row[0]:
        return 0
    found = conn.execute(f"SELECT max(version) FROM {SCHEMA_TABLE}").fetchone()
    return int(found[0] or 0) if found is not None else 0


def migrate(conn: Connection, clock: Callable[[], float] = time.time) -> int:
    """Bring the database to :data:`LATEST_VERSION`; return the version it is at.

    ``conn`` must be in autocommit mode: this opens its own transaction. Raises
    :class:`StoreError` if the database's schema is newer than this code.
    """
    # A read first: the common case (already current) must not queue for the lock.
    current = schema_version(conn)
    _refuse_newer(current)
    if current == LATEST_VERSION:
        return current
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        # Re-read under the lock: another process may have migrated meanwhile.
        current = schema_version(conn)
        _refuse_newer(current)
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (version INTEGER PRIMARY KEY,"
            " description TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
        )
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            migration.apply(conn)
            conn.execute(
                f"INSERT INTO {SCHEMA_TABLE} (version, description, applied_at) VALUES (%s, %s, %s)",
                (migration.version, migration.description, clock()),
            )
    return LATEST_VERSION


def _refuse_newer(current: int) -> None:
    if current > LATEST_VERSION:
        raise StoreError(
            f"the event log's schema is version {current}, but this Aether knows only up to "
            f"version {LATEST_VERSION}: upgrade Aether to open it (refusing to write to a newer schema)"
        )


__all__ = ["LATEST_VERSION", "MIGRATIONS", "MIGRATION_LOCK", "SCHEMA_TABLE", "Migration", "migrate", "schema_version"]
