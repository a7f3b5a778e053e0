"""Time travel, the query side: points of a run's history, as ``aether replay --at`` and
``--diff`` show them.

With a view history (an SQLite or PostgreSQL engine) a point is read from what the projector
recorded, after bringing the projections up to the log if they do not reach that point
yet; without one (an in-memory engine), or when the read models cannot reach the log, it
is refolded from the nearest snapshot: the policy of every read
(``aether.runtime.queries``). Both give ``run_view`` of the state folded to that point.
"""

from __future__ import annotations

from aether.events.times import parse_ms
from aether.history.time_travel import diff_points, diff_views, seq_at_time
from aether.model.json_value import JSON
from aether.projections.view_at import ViewAt, ViewHistoryGap, view_of_state
from aether.runtime.engine import Engine
from aether.runtime.queries import QueryService
from aether.store.view_history_reader import ViewHistoryReader


class TimeTravel:
    """Views of one engine's runs at points of their histories."""

    def __init__(self, engine: Engine, queries: QueryService | None = None) -> None:
        self.engine = engine
        self.queries = queries if queries is not None else QueryService(engine)

    @property
    def fallback_reason(self) -> str | None:
        """Why the view history could not be used (the read models cannot reach the end of
        the log, e.g. a damaged event): points are then refolded."""
        return self.queries.fallback_reason

    def last_version(self, run_id: str) -> int:
        return self.queries.last_version(run_id)

    def view_at(self, run_id: str, seq: int) -> ViewAt | None:
        """The run right after event ``seq`` (its last event if ``seq`` is past it); None
        before its first event."""
        seq = min(seq, self.last_version(run_id))
        if seq < 1:
            return None
        reader = self._reader(run_id, seq)
        if reader is None:
            return view_of_state(self.engine.state_at(run_id, seq))
        found = reader.view_at(run_id, seq)
        if found is None:
            raise ViewHistoryGap(f"run {run_id} has events but no recorded view history")
        return found

    def seq_at_time(self, run_id: str, at: str) -> int:
        """The last event recorded at or before ``at`` (an RFC 3339 time; ValueError if not)."""
        limit = parse_ms(at)
        last = self.last_version(run_id)
        reader = self._reader(run_id, last)
        if reader is None:
            return seq_at_time(self.engine.events(run_id), at)
        passed = reader.first_version_after(run_id, limit)
        return last if passed is None else passed - 1

    def diff(self, run_id: str, a: int, b: int) -> dict[str, JSON]:
        """What changed from point ``a`` to point ``b`` (both at or after event 1)."""
        before, after = self.view_at(run_id, a), self.view_at(run_id, b)
        assert before is not None and after is not None, "points before event 1 have no view"
        reader = self._reader(run_id, min(max(a, b), self.last_version(run_id)))
        if reader is None:
            return diff_views(before.to_dict(), after.to_dict())
        changed = reader.changed_nodes(run_id, min(a, b), max(a, b))
        return diff_points(before, after, changed)

    def _reader(self, run_id: str, up_to: int) -> ViewHistoryReader | None:
        """The view history, brought up to event ``up_to`` of the run if it is not yet; None
        when points must be refolded instead."""
        if self.engine.view_history is None or not self.queries.read_models_reach(run_id, up_to):
            return None
        return self.engine.view_history
