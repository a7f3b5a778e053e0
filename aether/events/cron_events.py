"""Cron facts that the catalog does not have (SPEC §12, §6.6: implementations MAY add
finer-grained events). Registered in ``EVENT_TYPES`` by the catalog's decorator, so the
codec reads and writes them like every other event. They live in the cron stream only.
"""

from __future__ import annotations

from attrs import frozen

from aether.events.catalog import INPUT, Event, event


@event("CronCatchupStarted", INPUT)
@frozen
class CronCatchupStarted(Event):
    """An engine started at ``at`` and took stock of the ticks it missed (§12.5).

    Its decision is the ``CronTickSkipped{reason: missed, count}`` of the missed ticks the
    policy does not process; the ones it does process follow as ``CronTicked`` inputs with
    trigger ``catchup``. Every tick up to ``at`` is then behind the ticker: a later start
    never counts the same missed tick again. ``catchup_limit`` is L-CATCHUP as it was in
    force, so a replay selects the same ticks."""

    at: str
    catchup_limit: int = 100


@event("CronRunStartFailed", INPUT)
@frozen
class CronRunStartFailed(Event):
    """The engine refused a run the cron decided to start (a ``workflowTemplateRef`` that
    no longer resolves, §13.4). The run never exists; the cron counts it as ``Error`` so
    that ``Forbid`` is not blocked by it and a restart does not submit it again."""

    run_id: str
    at: str
    message: str


__all__ = ["CronCatchupStarted", "CronRunStartFailed"]
