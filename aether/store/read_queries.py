"""The read-model SQL behind ``aether list``: the runs table, without pruned runs.

The query service (``aether.runtime.queries``) brings the read models up to the log
before it reads; the audit trail's SQL is ``aether.store.audit``, time travel's is
``aether.store.view_history_reader``.
"""

from __future__ import annotations

from aether.model.json_value import JSON
from aether.projections.read_models import PRUNED_RUNS, RUNS
from aether.store.sql_database import SqlDatabase

# The keys of a listed run, in the order ``aether list --json`` prints them.
LIST_COLUMNS = ("runId", "name", "namespace", "phase", "createdAt", "finishedAt", "progress")

_LISTED_RUNS = (
    f"SELECT run_id, name, namespace, phase, created_at, finished_at, progress FROM {RUNS.name} "
    f"WHERE run_id NOT IN (SELECT run_id FROM {PRUNED_RUNS.name}) ORDER BY created_at, run_id"
)


def listed_runs(db: SqlDatabase) -> list[dict[str, JSON]]:
    """Every run in creation order, without the runs a cron's history limits pruned
    (SPEC §12.4). A time not reached yet (``finishedAt`` of a running run) is ""."""
    return [
        {column: value if value is not None else "" for column, value in zip(LIST_COLUMNS, row, strict=True)}
        for row in db.fetchall(_LISTED_RUNS)
    ]
