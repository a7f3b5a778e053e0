"""A cheap check that the read models still agree with the log they were projected from
(``aether projections status``): a row count and a version per run, not a refold. It finds
rows deleted, added or left behind by hand or by a damaged file, which lagging alone would
not show; a field edited in place is only found by ``aether projections rebuild``.

Runs against a database that holds both the log's ``events`` and ``streams`` and the read
models' tables, as every SQLite engine's file and PostgreSQL engine's database do;
elsewhere there is nothing to compare with.
"""

from __future__ import annotations

from collections.abc import Callable

from attrs import frozen

from aether.events.streams import RUN_PREFIX
from aether.projections.read_models import RUNS, TASKS
from aether.store.sql_database import POSTGRES, SQLITE, Dialect, SqlDatabase, SqlSession

# Run streams sort between these two names: the range walks the streams index.
_RUNS_FROM, _RUNS_TO = RUN_PREFIX, RUN_PREFIX[:-1] + chr(ord(RUN_PREFIX[-1]) + 1)


@frozen
class Damage:
    table: str
    finding: str


def read_model_damage(db: SqlDatabase, stored_position: Callable[[SqlSession], int]) -> list[Damage]:
    """What the ``runs`` and ``tasks`` tables get wrong about the log up to the position
    they say they reflect (``stored_position``, read in the same snapshot as the tables,
    so that a projector of another process moving on in between is not taken for damage)."""
    if not {"events", "streams", RUNS.name, TASKS.name} <= db.table_names():
        return []
    with db.snapshot() as session:
        return _damage(session, stored_position(session), db.dialect)


# Whether an event's JSON payload has a ``created`` member, in each dialect's JSON functions.
_CARRIES_CREATION = {
    SQLITE.name: "json_extract(CAST(data AS TEXT), '$.created') IS NOT NULL",
    POSTGRES.name: "(convert_from(data, 'UTF8')::jsonb -> 'created') IS NOT NULL",
}


def _damage(session: SqlSession, position: int, dialect: Dialect) -> list[Damage]:
    damage: list[Damage] = []
    runs_in_log = _count(
        session,
        "SELECT COUNT(*) FROM streams s JOIN events e ON e.stream = s.stream AND e.version = 1 "
        "WHERE s.stream >= ? AND s.stream < ? AND e.position <= ?",
        (_RUNS_FROM, _RUNS_TO, position),
    )
    run_rows = _count(session, f"SELECT COUNT(*) FROM {RUNS.name}")
    if run_rows != runs_in_log:
        damage.append(Damage(RUNS.name, f"{run_rows} rows for the {runs_in_log} runs of the log"))
    # A row whose run has no event up to the position counts too (-1: no version is).
    stale = _count(
        session,
        f"SELECT COUNT(*) FROM {RUNS.name} r WHERE r.last_version <> COALESCE((SELECT MAX(e.version) FROM events e "
        "WHERE e.stream = ? || r.run_id AND e.position <= ?), -1)",
        (RUN_PREFIX, position),
    )
    if stale:
        damage.append(Damage(RUNS.name, f"{stale} rows do not reflect their run's last event"))
    # Every node of a run is created by exactly one record, a NodeCreated or a TaskDispatched
    # that carries a leaf's creation (SPEC §6.6.1), and has one tasks row.
    carries_creation = _CARRIES_CREATION[dialect.name]
    nodes_in_log = _count(
        session,
        "SELECT COUNT(*) FROM events WHERE position <= ? AND"
        f" (type = 'NodeCreated' OR (type = 'TaskDispatched' AND {carries_creation}))",
        (position,),
    )
    task_rows = _count(session, f"SELECT COUNT(*) FROM {TASKS.name}")
    if task_rows != nodes_in_log:
        damage.append(Damage(TASKS.name, f"{task_rows} rows for the {nodes_in_log} nodes of the log"))
    return damage


def _count(session: SqlSession, sql: str, params: tuple[object, ...] = ()) -> int:
    row = session.fetchone(sql, params)
    return int(row[0]) if row is not None else 0
