"""The read side's policy (``aether.runtime.queries``): read the read models when they
cover the point asked for, catch them up when they do not, and fold the log when there
are none or they cannot reach it, with the same answer every way.

Runs come from the recorded corpus (``replay/``), imported as ``aether import`` does:
appended to the log, not yet projected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aether.events.records import PendingEvent
from aether.history.time_travel import diff_views
from aether.history.transfer import parse_lines
from aether.projections.history_entries import HistoryEntry, iter_history
from aether.projections.view_at import view_of_state
from aether.runtime.engine import Engine, RunNotFound
from aether.runtime.queries import NoReadModels, QueryService
from aether.runtime.setup import postgres_engine, sqlite_engine
from aether.runtime.time_travel_queries import TimeTravel
from aether.store.base import NO_STREAM, EventLog
from aether.store.history_import import import_history
from aether.store.memory import InMemoryEventLog

CORPUS = Path(__file__).resolve().parents[2] / "replay"
# A run with retries, so its audit trail has phase changes of several kinds.
RUN = "retry-backoff"
OTHER = "dag-diamond"


def imported(log: EventLog, name: str) -> str:
    path = CORPUS / f"{name}.jsonl"
    return import_history(log, parse_lines(path.read_bytes().splitlines(), str(path)))


def folded_trail(engine: Engine, run_id: str) -> list[HistoryEntry]:
    return list(iter_history(engine.events(run_id), phases_only=True))


class Calls:
    """Counts the engine's catch-ups and refolds (reading a run's events or a state at a
    point); either may be forbidden."""

    def __init__(self, engine: Engine, *, refold_allowed: bool = True) -> None:
        self.catch_ups = 0
        self.refolds = 0
        self.refold_allowed = refold_allowed
        catch_up, events, state_at = engine.catch_up_projections, engine.events, engine.state_at

        def counted_catch_up() -> int:
            self.catch_ups += 1
            return catch_up()

        def counted(read: Callable[..., Any]) -> Callable[..., Any]:
            def refold(*args: Any, **kwargs: Any) -> Any:
                self.refolds += 1
                assert self.refold_allowed, f"refolded with {read.__name__}{args}"
                return read(*args, **kwargs)

            return refold

        engine.catch_up_projections = counted_catch_up  # type: ignore[method-assign]
        engine.events = counted(events)  # type: ignore[method-assign]
        engine.state_at = counted(state_at)  # type: ignore[method-assign]


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an SQLite file, or on a PostgreSQL database (read models and view
    history beside the log, in both)."""
    if request.param == "sqlite":
        engine = sqlite_engine(tmp_path / "aether.db", workers=0)
    else:
        engine = postgres_engine(request.getfixturevalue("postgres_url"), workers=0)
    yield engine
    engine.log.close()
    assert engine.projector is not None
    engine.projector.db.close()


def test_a_covered_point_is_read_from_the_read_models_without_refolding(engine: Engine) -> None:
    run_id = imported(engine.log, RUN)
    engine.catch_up_projections()
    last = engine.log.stream_version(f"run:{run_id}")
    trail, view = folded_trail(engine, run_id), engine.get(run_id)
    middle = view_of_state(engine.state_at(run_id, last // 2)).to_dict()
    calls = Calls(engine, refold_allowed=False)
    queries = QueryService(engine)
    travel = TimeTravel(engine, queries)

    assert list(queries.history(run_id, phases_only=True)) == trail
    at_end = travel.view_at(run_id, last)
    assert at_end is not None and at_end.to_dict() == view
    assert travel.diff(run_id, last // 2, last) == diff_views(middle, view)
    assert (calls.catch_ups, calls.refolds, queries.fallback_reason) == (0, 0, None)


def test_an_uncovered_point_catches_the_read_models_up_once(engine: Engine) -> None:
    projected = imported(engine.log, OTHER)
    engine.catch_up_projections()
    run_id = imported(engine.log, RUN)  # after the projection: not covered yet
    trail = folded_trail(engine, run_id)
    calls = Calls(engine, refold_allowed=False)
    queries = QueryService(engine)

    assert queries.read_models_reach(projected, 1)
    assert calls.catch_ups == 0
    assert list(queries.history(run_id, phases_only=True)) == trail
    assert calls.catch_ups == 1
    assert list(queries.history(run_id, phases_only=True)) == trail
    at = TimeTravel(engine, queries).view_at(run_id, 3)
    assert at is not None and at.to_dict()["runId"] == run_id
    assert (calls.catch_ups, calls.refolds, queries.fallback_reason) == (1, 0, None)


def test_without_read_models_every_read_refolds_to_the_same_answer(tmp_path: Path) -> None:
    with_models = sqlite_engine(tmp_path / "aether.db", workers=0)
    imported(with_models.log, RUN)
    run_id = imported(with_models.log, OTHER)
    want_trail = list(QueryService(with_models).history(run_id, phases_only=True))
    want_view = TimeTravel(with_models).view_at(run_id, 5)
    with_models.log.close()

    memory = Engine(InMemoryEventLog(), workers=0)
    imported(memory.log, RUN)
    imported(memory.log, OTHER)
    calls = Calls(memory)
    queries = QueryService(memory)
    assert not queries.read_models_reach(run_id, 1)
    assert list(queries.history(run_id, phases_only=True)) == want_trail
    found = TimeTravel(memory, queries).view_at(run_id, 5)
    assert want_view is not None and found is not None and found.to_dict() == want_view.to_dict()
    assert calls.refolds == 2 and calls.catch_ups == 0
    assert queries.fallback_reason is None  # nothing failed: there is nothing to read
    with pytest.raises(NoReadModels):
        queries.runs()
    with pytest.raises(NoReadModels):
        queries.projection_status()


def test_read_models_that_cannot_reach_the_log_give_way_to_refolding(engine: Engine) -> None:
    # An event the projector cannot fold, ahead of the run in the log: catching up stops there.
    engine.log.append("run:broken", [PendingEvent("WorkflowSubmitted", 1, b'{"nodeId": 7}')], NO_STREAM)
    run_id = imported(engine.log, RUN)
    trail = folded_trail(engine, run_id)
    want = view_of_state(engine.state_at(run_id, 4)).to_dict()
    calls = Calls(engine)
    queries = QueryService(engine)

    assert list(queries.history(run_id, phases_only=True)) == trail
    assert queries.fallback_reason is not None and "run:broken version 1" in queries.fallback_reason
    travel = TimeTravel(engine, queries)
    at = travel.view_at(run_id, 4)
    assert at is not None and at.to_dict() == want
    assert calls.catch_ups == 1, "a failed catch-up is not tried again for every read"
    assert calls.refolds == 2
    assert travel.fallback_reason == queries.fallback_reason


def test_runs_export_and_status_read_through_the_service(engine: Engine) -> None:
    run_id = imported(engine.log, RUN)
    queries = QueryService(engine)
    assert queries.projection_status().behind == engine.log.last_position()
    assert [row["runId"] for row in queries.runs()] == [run_id]
    assert queries.projection_status().behind == 0
    assert queries.get(run_id) == engine.get(run_id)
    lines = list(queries.export(run_id))
    assert len(lines) == 1 + engine.log.stream_version(f"run:{run_id}")
    with pytest.raises(RunNotFound):
        queries.export("nope")
    with pytest.raises(RunNotFound):
        queries.history("nope", phases_only=True)
