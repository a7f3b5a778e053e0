"""Adding an exported run history (``aether import``) to an event log.

The lines are parsed and checked first (``aether.history.transfer.parse_lines``: every
event decodes and the run folds); here the run becomes a new stream of the log.
"""

from __future__ import annotations

from aether.history.transfer import ImportError_, ParsedHistory
from aether.store.base import NO_STREAM, ConcurrencyConflict, EventLog


def import_history(log: EventLog, history: ParsedHistory) -> str:
    """Append the history as a new stream ``run:<runId>``; refuse to overwrite a run."""
    stream = f"run:{history.run_id}"
    try:
        log.append(stream, list(history.events), NO_STREAM)
    except ConcurrencyConflict as exc:
        raise ImportError_(
            f"{history.source}:{history.first_event_line}: run {history.run_id} already exists in this log"
        ) from exc
    return history.run_id
