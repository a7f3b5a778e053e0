"""An engine on PostgreSQL (``postgres_engine``): a real run from submission to Succeeded,
then every read of the query service answered from the read models in the same database,
equal to what folding the log gives."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.documents import dag, echo_task, workflow

from aether.history.time_travel import diff_views
from aether.model.json_value import JSON
from aether.projections.history_entries import iter_history
from aether.projections.view_at import view_of_state
from aether.runtime.engine import Engine
from aether.runtime.queries import QueryService
from aether.runtime.setup import postgres_engine
from aether.runtime.time_travel_queries import TimeTravel
from aether.store.read_model_check import Damage, read_model_damage
from aether.store.sql_database import PostgresDatabase

pytestmark = pytest.mark.spec("6.1", "6.6", "15")


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = postgres_engine(postgres_url, workers=2)
    yield engine
    engine.stop()
    engine.log.close()
    assert engine.projector is not None
    engine.projector.db.close()


def diamond() -> dict[str, JSON]:
    return workflow(
        "diamond",
        dag(
            "main",
            echo_task("a"),
            echo_task("b", dependencies=["a"]),
            echo_task("c", dependencies=["a"]),
            echo_task("d", dependencies=["b", "c"]),
        ),
    )


def test_a_run_on_postgres_is_read_back_from_its_read_models(engine: Engine) -> None:
    engine.start()
    run_id = engine.submit(diamond()).run_id
    assert engine.wait(run_id, timeout=60)["phase"] == "Succeeded"
    engine.catch_up_projections()
    assert engine.projector is not None and isinstance(engine.projector.db, PostgresDatabase)

    queries = QueryService(engine)
    calls = {"folds": 0}
    state_at = engine.state_at

    def counted_state_at(*args: object) -> object:
        calls["folds"] += 1
        return state_at(*args)  # type: ignore[arg-type]

    listed = queries.runs()
    assert [(row["runId"], row["phase"], row["progress"]) for row in listed] == [(run_id, "Succeeded", "5/5")]
    view = queries.get(run_id)
    assert view["phase"] == "Succeeded"
    assert {node["taskName"] for node in view["tasks"]} >= {"a", "b", "c", "d"}  # type: ignore[index,union-attr]

    trail = list(queries.history(run_id, phases_only=True))
    assert trail == list(iter_history(engine.events(run_id), phases_only=True))
    assert trail[-1].node_id is None and trail[-1].to_phase == "Succeeded"

    last = queries.last_version(run_id)
    wanted = [view_of_state(engine.state_at(run_id, seq)).to_dict() for seq in range(1, last + 1)]
    engine.state_at = counted_state_at  # type: ignore[method-assign]
    travel = TimeTravel(engine, queries)
    for seq, want in enumerate(wanted, start=1):
        found = travel.view_at(run_id, seq)
        assert found is not None and found.to_dict() == want, f"--at {seq}"
    assert travel.diff(run_id, 1, last) == diff_views(wanted[0], wanted[-1])
    assert calls["folds"] == 0, "time travel read the view history, it did not refold"
    assert queries.fallback_reason is None
    status = queries.projection_status()
    assert (status.behind, status.damage) == (0, ())


def test_the_read_model_check_counts_the_nodes_compact_records_create(engine: Engine) -> None:
    """``projections status`` on PostgreSQL: a leaf's creation carried by its dispatch
    (SPEC §6.6.1) counts as a node of the log, so healthy read models show no damage, and
    a tasks row deleted by hand does."""
    engine.start()
    run_id = engine.submit(diamond()).run_id
    assert engine.wait(run_id, timeout=60)["phase"] == "Succeeded"
    engine.catch_up_projections()
    projector = engine.projector
    assert projector is not None
    position = lambda session: projector.stored_position(session)  # noqa: E731
    assert read_model_damage(projector.db, position) == []
    with projector.db.transaction() as tx:
        tx.execute("DELETE FROM tasks WHERE node_id = ?", ("main/d",))
    assert read_model_damage(projector.db, position) == [Damage("tasks", "4 rows for the 5 nodes of the log")]
