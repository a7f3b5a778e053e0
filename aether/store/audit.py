"""A run's audit trail (``aether history RUN --phases-only``) read from the ``phase_history`` table.

The projector already folds every event with the real reducer and records each phase
change it finds (``phase_transitions``) as a row; reading those rows back gives the same
entries as :func:`aether.projections.history_entries.iter_history` with ``phases_only=True``,
field for field, without folding the run again. The caller brings the table up to the
log first (``Engine.catch_up_projections``) and checks that the run exists: a run with
no rows and a run that does not exist look the same here.

Order. ``iter_history`` yields an event's changes nodes first (bottom up), then the run,
in the order ``phase_transitions`` returns them. ``PhaseHistoryModel`` numbers those rows
in exactly that order (``ordinal``), and the primary key is (run_id, seq, ordinal): rows
are read back in key order, in SQLite and PostgreSQL alike. If an event is ever
projected twice (a rebuild), its rows get the same keys and replace the old ones.

Rows stream from a cursor, one at a time: memory does not grow with the run.
"""

from __future__ import annotations

from collections.abc import Iterator

from aether.events.catalog import EVENT_TYPES
from aether.events.phases import Phase
from aether.projections.history_entries import HistoryEntry, phase_entry
from aether.projections.read_models import PHASE_HISTORY
from aether.projections.transitions import RUN, PhaseTransition
from aether.store.sql_database import SqlDatabase

_COLUMNS = "seq, at, node_id, from_phase, to_phase, message, event_type"
# Every id below ``node`` lies in ``node + "/" <= id < node + "0"`` ("0" follows "/" in
# code point and UTF-8 byte order, which is how SQLite's BINARY collation and PostgreSQL's
# "C" compare). Unlike LIKE, the range is case-sensitive and has no wildcards to escape.
# The whole trail walks the primary key (run_id, seq, ordinal) in order, so it streams.
_ALL = f"SELECT {_COLUMNS} FROM {PHASE_HISTORY.name} WHERE run_id = ? ORDER BY seq, ordinal"
_AFTER = f"SELECT {_COLUMNS} FROM {PHASE_HISTORY.name} WHERE run_id = ? AND seq > ? ORDER BY seq, ordinal"
_SUBTREE = (
    f"SELECT {_COLUMNS} FROM {PHASE_HISTORY.name} WHERE run_id = ? AND node_id <> ? "
    "AND (node_id = ? OR (node_id >= ? AND node_id < ?)) ORDER BY seq, ordinal"
)


def iter_phase_history(
    db: SqlDatabase, run_id: str, *, node: str | None = None, after: int = 0
) -> Iterator[HistoryEntry]:
    """The phase entries of ``run_id`` from the ``phase_history`` table, in history order.

    Equal to ``iter_history(events, phases_only=True, node=node)`` for the same run.
    ``node`` keeps only that node and the nodes below it (node ids are paths); the run's
    own entries are then left out, as ``iter_history`` leaves them out. ``after``: only
    the entries of later events (a live page reads what is new).
    """
    if node is None:
        rows = db.stream(_AFTER, (run_id, after)) if after > 0 else db.stream(_ALL, (run_id,))
    else:
        rows = db.stream(_SUBTREE, (run_id, RUN, node, node + "/", node + "0"))
    for seq, at, node_id, from_phase, to_phase, message, event_type in rows:
        if seq <= after:
            continue
        yield _entry(seq, at, node_id, from_phase, to_phase, message, event_type)


def _entry(
    seq: int, at: str | None, node_id: str, from_phase: Phase | None, to_phase: Phase, message: str, event_type: str
) -> HistoryEntry:
    change = PhaseTransition(node_id, from_phase, to_phase, message)
    return phase_entry(seq, at or "", event_type, EVENT_TYPES[event_type].KIND, change)
