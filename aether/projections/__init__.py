"""Layer 5: run views, read-model rows, snapshot encoding and history entries (docs/architecture.md).

Pure: everything here is computed from run state and events. Writing the read models
and snapshots to a database is the store's job (``aether.store.projector``,
``aether.store.sqlite_snapshots``, ``aether.store.memory_snapshots``,
``aether.store.loading``).

- ``views``: the JSON run view, from run state alone.
- ``snapshots``: the snapshot format, its encoding, and the snapshot policy.
- ``transitions``: the phase changes of one event (before/after comparison).
- ``read_model_base``: what a read model is (its tables, the run change it is shown, its rows).
- ``read_models``: the rows of the ``runs``, ``tasks`` and ``phase_history`` tables.
- ``view_history``: the rows time travel reads; ``view_at``: a run view at a point.
- ``history_entries``: a run's recorded history as readable entries, and its audit trail.
"""

from __future__ import annotations

from aether.projections.history_entries import HistoryEntry, iter_history, summarize
from aether.projections.read_model_base import ReadModel, RowSink, RunChange, TableSpec
from aether.projections.read_models import default_read_models
from aether.projections.snapshots import SNAPSHOT_FORMAT, SnapshotStore, Snapshotter
from aether.projections.transitions import PhaseTransition, phase_transitions
from aether.projections.views import node_view, run_view

__all__ = [
    "SNAPSHOT_FORMAT",
    "HistoryEntry",
    "PhaseTransition",
    "ReadModel",
    "RowSink",
    "RunChange",
    "SnapshotStore",
    "Snapshotter",
    "TableSpec",
    "default_read_models",
    "iter_history",
    "node_view",
    "phase_transitions",
    "run_view",
    "summarize",
]
