"""The fact ``aether import`` records about a run it added to the log (SPEC §6.6:
implementations MAY add events). It lives in the run's import stream, never in the run
stream, so the imported history still verifies as it was exported."""

from __future__ import annotations

from attrs import frozen

from aether.events.catalog import INPUT, Event, event


@event("HistoryImported", INPUT)
@frozen
class HistoryImported(Event):
    """Run ``run_id`` was imported at ``at`` from ``source``. ``verified`` is false when the
    import was forced (``--no-verify``) past a history whose recorded decisions do not replay;
    ``finding`` then says what verification found (empty when it was not run or passed)."""

    run_id: str
    at: str
    source: str
    verified: bool
    finding: str = ""


__all__ = ["HistoryImported"]
