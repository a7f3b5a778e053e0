"""The read-model SQL behind ``aether list``: the runs table, without pruned runs, filtered.

The query service (``aether.runtime.queries``) brings the read models up to the log
before it reads; the audit trail's SQL is ``aether.store.audit``, time travel's is
``aether.store.view_history_reader``.
"""

from __future__ import annotations

from attrs import frozen

from aether.model.json_value import JSON
from aether.projections.read_models import PRUNED_RUNS, RUNS
from aether.store.sql_database import SqlDatabase

# The keys of a listed run, in the order ``aether list --json`` prints them.
LIST_COLUMNS = ("runId", "name", "namespace", "phase", "createdAt", "finishedAt", "progress")

_LISTED_RUNS = (
    f"SELECT run_id, name, namespace, phase, created_at, finished_at, progress FROM {RUNS.name} "
    f"WHERE run_id NOT IN (SELECT run_id FROM {PRUNED_RUNS.name})"
)


@frozen
class RunFilter:
    """Which runs ``aether list`` shows; the defaults keep every run."""

    phases: tuple[str, ...] = ()  # any of these phases; () for every phase
    workflow: str | None = None  # metadata.name of the workflow
    namespace: str | None = None
    created_since: str | None = None  # RFC 3339 UTC with milliseconds, as events record times
    limit: int | None = None  # only the newest ``limit`` runs, newest first


EVERY_RUN = RunFilter()


def listed_runs(db: SqlDatabase, run_filter: RunFilter = EVERY_RUN) -> list[dict[str, JSON]]:
    """The runs ``run_filter`` keeps, in creation order (newest first with a limit), without
    the runs a cron's history limits pruned (SPEC §12.4). A time not reached yet
    (``finishedAt`` of a running run) is ""."""
    sql, params = _listing(run_filter)
    return [
        {column: value if value is not None else "" for column, value in zip(LIST_COLUMNS, row, strict=True)}
        for row in db.fetchall(sql, params)
    ]


def _listing(run_filter: RunFilter) -> tuple[str, tuple[str | int, ...]]:
    conditions: list[str] = []
    params: list[str | int] = []
    if run_filter.phases:
        conditions.append(f"phase IN ({', '.join('?' * len(run_filter.phases))})")
        params.extend(run_filter.phases)
    if run_filter.workflow is not None:
        conditions.append("name = ?")
        params.append(run_filter.workflow)
    if run_filter.namespace is not None:
        conditions.append("namespace = ?")
        params.append(run_filter.namespace)
    if run_filter.created_since is not None:
        # Times are recorded in one fixed-width UTC form, so text order is time order.
        conditions.append("created_at >= ?")
        params.append(run_filter.created_since)
    sql = _LISTED_RUNS + "".join(f" AND {condition}" for condition in conditions)
    if run_filter.limit is None:
        return sql + " ORDER BY created_at, run_id", tuple(params)
    params.append(run_filter.limit)
    return sql + " ORDER BY created_at DESC, run_id DESC LIMIT ?", tuple(params)
