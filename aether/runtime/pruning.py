"""Removing finished runs from the read models (``aether delete``, ``aether prune``) while
the log keeps every fact: a ``RunPruned`` in the run's ``pruned:`` stream, which the
projector reads as it reads a cron's history limits (SPEC §12.4), so ``aether list`` no
longer shows the run. Its history, export and replay still read the log.
"""

from __future__ import annotations

from collections.abc import Iterable

from aether.events.catalog import RunPruned
from aether.events.codec import encode
from aether.events.streams import pruned_stream
from aether.events.times import parse_ms
from aether.reducers.state import TERMINAL_PHASES
from aether.runtime.queries import QueryService
from aether.store.base import NO_STREAM, ConcurrencyConflict


class NotPrunable(Exception):
    """A run that cannot be deleted (it is not finished, or already deleted)."""


def delete_run(queries: QueryService, run_id: str) -> str:
    """Record that the finished run ``run_id`` leaves the read models; return its phase.
    Raises ``RunNotFound`` for an unknown run, ``NotPrunable`` for an unfinished or
    already deleted one."""
    phase = str(queries.get(run_id)["phase"])
    if phase not in TERMINAL_PHASES:
        raise NotPrunable(f"run {run_id} is {phase}: cancel it first, only a finished run can be deleted")
    try:
        queries.engine.log.append(pruned_stream(run_id), [encode(RunPruned(run_id, phase))], NO_STREAM)
    except ConcurrencyConflict as exc:
        raise NotPrunable(f"run {run_id} was deleted already") from exc
    return phase


def was_deleted(queries: QueryService, run_id: str) -> bool:
    """Whether ``aether delete`` or ``aether prune`` removed the run from the listings."""
    return queries.engine.log.stream_version(pruned_stream(run_id)) > 0


def finished_before(queries: QueryService, before: str) -> list[str]:
    """The listed runs that finished before the RFC 3339 time ``before``, oldest first."""
    limit = parse_ms(before)
    runs: Iterable[dict] = queries.runs()
    return [
        str(run["runId"])
        for run in runs
        if run["phase"] in TERMINAL_PHASES and run["finishedAt"] and parse_ms(str(run["finishedAt"])) < limit
    ]
