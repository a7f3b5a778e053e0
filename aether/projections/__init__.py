"""Layer 5: run views, read models, snapshots and history (ARCHITECTURE.md).

- ``views``: the JSON run view, from run state alone.
- ``snapshots``, ``sqlite_snapshots``, ``loading``: snapshot stores and snapshot + tail loading.
- ``transitions``: the phase changes of one event (before/after comparison).
- ``read_models``, ``projector``: the ``runs``, ``tasks`` and ``phase_history`` tables.
- ``history``: a run's history as readable lines.
"""

from __future__ import annotations

from aether.projections.history import HistoryEntry, iter_history, summarize
from aether.projections.loading import load_run_state
from aether.projections.projector import ProjectionError, Projector
from aether.projections.read_models import ReadModel, RowSink, RunChange, TableSpec, default_read_models
from aether.projections.snapshots import (
    SNAPSHOT_FORMAT,
    InMemorySnapshotStore,
    SnapshotStore,
    Snapshotter,
)
from aether.projections.sqlite_snapshots import SqliteSnapshotStore
from aether.projections.transitions import PhaseTransition, phase_transitions
from aether.projections.views import node_view, run_view

__all__ = [
    "SNAPSHOT_FORMAT",
    "HistoryEntry",
    "InMemorySnapshotStore",
    "PhaseTransition",
    "ProjectionError",
    "Projector",
    "ReadModel",
    "RowSink",
    "RunChange",
    "SnapshotStore",
    "Snapshotter",
    "SqliteSnapshotStore",
    "TableSpec",
    "default_read_models",
    "iter_history",
    "load_run_state",
    "node_view",
    "phase_transitions",
    "run_view",
    "summarize",
]
