"""Schema of the SQLite event log: a version table and the ordered migrations that reach it.

``aether_schema`` holds one row per applied migration. Opening a log applies, in order,
every migration newer than the file's highest row, inside one ``BEGIN IMMEDIATE``
transaction, so two processes opening a fresh file at once cannot both migrate it and a
crash mid-migration leaves the previous schema intact. A file whose schema is newer than
this code knows is refused: old code writing into a newer layout could break invariants
it does not know about.

A migration is append-only history, like the log: never edit a released one, add the
next.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from attrs import frozen
from sqlite_utils import Database

from aether.store.base import StoreError

SCHEMA_TABLE = "aether_schema"


@frozen
class Migration:
    version: int
    description: str
    apply: Callable[[Database], None]


def _create_event_tables(db: Database) -> None:
    # position is INTEGER PRIMARY KEY (the rowid): assigned max+1 inside the writer's
    # IMMEDIATE transaction, and rows are never deleted, so positions grow in commit order.
    db.table("events").create(
        {
            "position": int,
            "stream": str,
            "version": int,
            "type": str,
            "schema_version": int,
            "data": bytes,
            "recorded_at": float,
        },
        pk="position",
        not_null={"stream", "version", "type", "schema_version", "data", "recorded_at"},
    )
    # UNIQUE(stream, version): the last line of defence against a duplicate version, and
    # the index that read(stream, from, to) walks.
    db.table("events").create_index(["stream", "version"], index_name="events_stream_version", unique=True)
    # One row per stream with its current version: stream_version() is one key lookup and
    # streams(prefix) walks distinct names instead of every event.
    db.table("streams").create({"stream": str, "version": int}, pk="stream", not_null={"version"})


def _create_coordination_tables(db: Database) -> None:
    # Members, run leases and claims (aether.store.coordination): rows that change, unlike
    # the log, because they say who may act now, not what happened.
    db.execute(
        "CREATE TABLE members (member_id TEXT PRIMARY KEY, role TEXT NOT NULL, host TEXT NOT NULL,"
        " pid INTEGER NOT NULL, locality TEXT NOT NULL, joined_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL)"
    )
    # seq orders leases by age (orphans are taken oldest first); owner NULL: released.
    db.execute("CREATE TABLE run_leases (run_id TEXT PRIMARY KEY, owner TEXT, seq INTEGER NOT NULL)")
    db.execute("CREATE INDEX run_leases_owner ON run_leases (owner)")
    # held = 0 once the attempt is settled: the row stays so the assignment is never
    # claimed again, until the run is released.
    db.execute(
        "CREATE TABLE claims (assignment_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, node_id TEXT NOT NULL,"
        " attempt INTEGER NOT NULL, worker_id TEXT NOT NULL, member_id TEXT NOT NULL,"
        " claimed_ms INTEGER NOT NULL, held INTEGER NOT NULL DEFAULT 1)"
    )
    db.execute("CREATE INDEX claims_run ON claims (run_id)")


def _create_task_queue_tables(db: Database) -> None:
    # The task queue (aether.store.task_queue): seq is the dispatch order, taken_by the
    # member whose worker took the row (and holds its claim).
    db.execute(
        "CREATE TABLE task_queue (seq INTEGER PRIMARY KEY, assignment_id TEXT NOT NULL UNIQUE,"
        " run_id TEXT NOT NULL, node_id TEXT NOT NULL, attempt INTEGER NOT NULL, executor_type TEXT NOT NULL,"
        " priority INTEGER NOT NULL, payload BLOB NOT NULL, taken_by TEXT, cancelled INTEGER NOT NULL DEFAULT 0)"
    )
    # What a worker looks for: waiting rows of its types, best priority, then oldest.
    db.execute(
        "CREATE INDEX task_queue_waiting ON task_queue (executor_type, priority DESC, seq)"
        " WHERE taken_by IS NULL AND cancelled = 0"
    )
    db.execute("CREATE INDEX task_queue_run ON task_queue (run_id)")
    # AUTOINCREMENT: an engine acknowledges by id what it read, so an id is never given
    # again, even after the newest report was deleted (acknowledged, or its run forgotten).
    db.execute(
        "CREATE TABLE task_reports (report_id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL,"
        " assignment_id TEXT NOT NULL, kind TEXT NOT NULL, payload BLOB NOT NULL, reported_ms INTEGER NOT NULL)"
    )
    db.execute("CREATE INDEX task_reports_run ON task_reports (run_id, report_id)")


def _create_task_log_table(db: Database) -> None:
    # Task logs (aether.store.task_logs): chunks of output, read by attempt in seq order.
    db.execute(
        "CREATE TABLE task_logs (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, node_id TEXT NOT NULL,"
        " attempt INTEGER NOT NULL, seq INTEGER NOT NULL, stream TEXT NOT NULL, at_ms INTEGER NOT NULL,"
        " data BLOB NOT NULL)"
    )
    db.execute("CREATE INDEX task_logs_attempt ON task_logs (run_id, node_id, attempt, seq)")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "events and streams tables", _create_event_tables),
    Migration(2, "members, run leases and claims", _create_coordination_tables),
    Migration(3, "task queue and worker reports", _create_task_queue_tables),
    Migration(4, "task logs", _create_task_log_table),
)

LATEST_VERSION = MIGRATIONS[-1].version


def _check_ordered() -> None:
    # A gap or a reordering would skip or repeat a step on some file: fail at import.
    versions = [m.version for m in MIGRATIONS]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n in order: {versions}")


_check_ordered()


def schema_version(db: Database) -> int:
    """The file's schema version: the highest applied migration, 0 for a fresh file."""
    if not db.table(SCHEMA_TABLE).exists():
        return 0
    row = db.execute(f"SELECT max(version) FROM {SCHEMA_TABLE}").fetchone()
    return int(row[0] or 0)


def migrate(db: Database, clock: Callable[[], float] = time.time) -> int:
    """Bring the file to :data:`LATEST_VERSION`; return the version it is at.

    The connection must be in autocommit mode (``isolation_level=None``): this opens its
    own ``BEGIN IMMEDIATE`` transaction. Raises :class:`StoreError` if the file's schema
    is newer than this code.
    """
    # A read first: the common case (already current) must not queue behind a writer.
    current = schema_version(db)
    _refuse_newer(current)
    if current == LATEST_VERSION:
        return current
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        current = schema_version(db)
        _refuse_newer(current)
        if not db.table(SCHEMA_TABLE).exists():
            db.table(SCHEMA_TABLE).create(
                {"version": int, "description": str, "applied_at": float},
                pk="version",
                not_null={"description", "applied_at"},
            )
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            migration.apply(db)
            db.conn.execute(
                f"INSERT INTO {SCHEMA_TABLE} (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, clock()),
            )
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    return LATEST_VERSION


def _refuse_newer(current: int) -> None:
    if current > LATEST_VERSION:
        raise StoreError(
            f"the event log's schema is version {current}, but this Aether knows only up to "
            f"version {LATEST_VERSION}: upgrade Aether to open it (refusing to write to a newer schema)"
        )


__all__ = ["LATEST_VERSION", "MIGRATIONS", "SCHEMA_TABLE", "Migration", "migrate", "schema_version"]
