"""Adding an exported run history (``aether import``) to an event log.

The lines are parsed and checked first (``aether.history.transfer.parse_lines``: every
event decodes and the run folds; the caller verifies the decisions); here the run becomes
a new stream of the log, together with the record of how it came there.
"""

from __future__ import annotations

from aether.events.codec import decode, encode
from aether.events.import_events import HistoryImported
from aether.events.streams import import_stream, run_stream
from aether.history.transfer import ImportError_, ParsedHistory
from aether.store.base import ANY_VERSION, NO_STREAM, ConcurrencyConflict, EventLog


def import_history(log: EventLog, history: ParsedHistory, record: HistoryImported | None = None) -> str:
    """Append the history as a new stream ``run:<runId>``; refuse to overwrite a run. The
    ``record`` goes to the run's import stream in the same transaction: a run forced in
    past verification is never in the log without the mark that says so."""
    requests = [(run_stream(history.run_id), list(history.events), NO_STREAM)]
    if record is not None:
        requests.append((import_stream(history.run_id), [encode(record)], ANY_VERSION))
    try:
        log.append_batch(requests)
    except ConcurrencyConflict as exc:
        raise ImportError_(
            f"{history.source}:{history.first_event_line}: run {history.run_id} already exists in this log"
        ) from exc
    return history.run_id


def import_record(log: EventLog, run_id: str) -> HistoryImported | None:
    """How run ``run_id`` was imported (the latest record), or None for a run submitted here."""
    latest: HistoryImported | None = None
    for stored in log.read(import_stream(run_id)):
        event = decode(stored)
        if isinstance(event, HistoryImported):
            latest = event
    return latest
