"""Loading a run's state: the newest usable snapshot, then the tail of the stream.

The result must equal folding the whole stream; snapshots only make it cheaper.
"""

from __future__ import annotations

from collections.abc import Iterator

from aether.events.catalog import Event, WorkflowSubmitted
from aether.events.codec import decode
from aether.events.streams import run_stream
from aether.projections.snapshots import SnapshotStore, Snapshotter, TemplatesSnapshot
from aether.reducers.run import apply
from aether.reducers.state import RunState
from aether.store.base import EventLog


def load_run_state(
    log: EventLog,
    stream: str,
    snapshots: SnapshotStore | None,
    *,
    to_version: int | None = None,
    snapshotter: Snapshotter | None = None,
) -> tuple[RunState | None, int]:
    """The state of ``stream`` after ``to_version`` events (all of them if None) and that version.

    Returns ``(None, 0)`` for a stream without events. A ``to_version`` past the end
    folds what exists and returns the stream's version. With a ``snapshotter``, the
    states at which folding the tail crosses its interval are saved to ``snapshots``,
    so the next load of a long stream starts closer to its end.
    """
    current = log.stream_version(stream)
    high = current if to_version is None else min(to_version, current)
    if high <= 0:
        return None, 0
    state: RunState | None = None
    version = 0
    templates: TemplatesSnapshot | None = None
    found = snapshots.latest(stream, high) if snapshots is not None else None
    # event_count is the number of events folded into the state: a snapshot that
    # disagrees with its own version belongs to another history (a replaced file).
    if found is not None and found[1].event_count == found[0]:
        version, state = found
    for stored in log.read(stream, version + 1, high):
        event = decode(stored)
        if isinstance(event, WorkflowSubmitted):
            templates = event.templates_snapshot
        state = apply(state, event)
        size = state.node_count
        if snapshots is not None and snapshotter is not None and snapshotter.due(version, stored.version, size):
            snapshots.save(stream, stored.version, state, templates_snapshot=templates)
        version = stored.version
    return state, version


def read_run_events(log: EventLog, run_id: str) -> Iterator[tuple[int, Event]]:
    """A run's events as (seq, event), decoded as they stream from the log."""
    for stored in log.read(run_stream(run_id)):
        yield stored.version, decode(stored)
