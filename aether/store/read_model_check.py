"""A cheap check that the read models still agree with the log they were projected from
(``aether projections status``): a row count and a version per run, not a refold. It finds
rows deleted, added or left behind by hand or by a damaged file, which lagging alone would
not show; a field edited in place is only found by ``aether projections rebuild``.

Runs against a database that holds both the log's ``events`` and the read models' tables,
as every SQLite engine's file does; elsewhere there is nothing to compare with.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from attrs import frozen
from sqlite_utils import Database

from aether.events.streams import RUN_PREFIX
from aether.projections.read_models import RUNS, TASKS

# Run streams sort between these two names: the range walks the streams index.
_RUNS_FROM, _RUNS_TO = RUN_PREFIX, RUN_PREFIX[:-1] + chr(ord(RUN_PREFIX[-1]) + 1)


@frozen
class Damage:
    table: str
    finding: str


def read_model_damage(db: Database, stored_position: Callable[[], int]) -> list[Damage]:
    """What the ``runs`` and ``tasks`` tables get wrong about the log up to the position
    they say they reflect (``stored_position``, read in the same transaction as the tables,
    so that a projector of another process moving on in between is not taken for damage)."""
    if not {"events", "streams", RUNS.name, TASKS.name} <= set(db.table_names()):
        return []
    conn = db.conn
    in_transaction = conn.in_transaction
    if not in_transaction:
        conn.execute("BEGIN")
    try:
        return _damage(conn, stored_position())
    finally:
        if not in_transaction:
            conn.execute("COMMIT")


def _damage(conn: sqlite3.Connection, position: int) -> list[Damage]:
    damage: list[Damage] = []
    (runs_in_log,) = conn.execute(
        "SELECT COUNT(*) FROM streams s JOIN events e ON e.stream = s.stream AND e.version = 1 "
        "WHERE s.stream >= ? AND s.stream < ? AND e.position <= ?",
        (_RUNS_FROM, _RUNS_TO, position),
    ).fetchone()
    (run_rows,) = conn.execute(f"SELECT COUNT(*) FROM {RUNS.name}").fetchone()
    if run_rows != runs_in_log:
        damage.append(Damage(RUNS.name, f"{run_rows} rows for the {runs_in_log} runs of the log"))
    (stale,) = conn.execute(
        f"SELECT COUNT(*) FROM {RUNS.name} r WHERE r.last_version IS NOT (SELECT MAX(e.version) FROM events e "
        "WHERE e.stream = ? || r.run_id AND e.position <= ?)",
        (RUN_PREFIX, position),
    ).fetchone()
    if stale:
        damage.append(Damage(RUNS.name, f"{stale} rows do not reflect their run's last event"))
    # Every node of a run is created by exactly one NodeCreated and has one tasks row.
    (nodes_in_log,) = conn.execute(
        "SELECT COUNT(*) FROM events WHERE type = 'NodeCreated' AND position <= ?", (position,)
    ).fetchone()
    (task_rows,) = conn.execute(f"SELECT COUNT(*) FROM {TASKS.name}").fetchone()
    if task_rows != nodes_in_log:
        damage.append(Damage(TASKS.name, f"{task_rows} rows for the {nodes_in_log} nodes of the log"))
    return damage
