"""The view history read model and time travel read from it.

Every upstream example (and a templateRef run) is recorded, the histories interleaved in
one SQLite log the way concurrent runs interleave, and projected with checkpoints every
few events and pages of a few nodes, into the log's own SQLite file or a PostgreSQL
database (``read_model_target``). Then, for every run and every event N, the view read
from the history equals ``run_view`` of the state folded to N.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from projection_support import History, decoded_stream, example_histories, fill, states_by_version, template_ref_history
from support.read_model_databases import ReadModelTarget

from aether.history.time_travel import diff_views
from aether.projections.read_model_base import ReadModel, RowSink, RunChange, TableSpec
from aether.projections.read_models import default_read_models
from aether.projections.view_at import ViewHistoryGap, view_of_state
from aether.projections.view_history import ViewHistoryModel
from aether.projections.views import run_view
from aether.runtime.engine import Engine
from aether.runtime.time_travel_queries import TimeTravel
from aether.store.base import NO_STREAM, EventLog
from aether.store.projector import Projector
from aether.store.sql_database import open_database
from aether.store.sqlite import SqliteEventLog
from aether.store.view_history_reader import ViewHistoryReader

pytestmark = pytest.mark.spec("6.6")


def histories() -> list[History]:
    return [*example_histories(), template_ref_history()]


def models(checkpoint_every: int = 4, page_size: int = 3, tracked_runs: int = 1024) -> list[ReadModel]:
    others = [m for m in default_read_models() if not isinstance(m, ViewHistoryModel)]
    return [
        *others,
        ViewHistoryModel(checkpoint_every=checkpoint_every, page_size=page_size, tracked_runs=tracked_runs),
    ]


def log_for(db: ReadModelTarget, tmp_path: Path) -> SqliteEventLog:
    """The SQLite log whose read models go to ``db``: the same file, or one beside a
    PostgreSQL database."""
    return SqliteEventLog(db if isinstance(db, Path) else tmp_path / "log.db")


def execute(db: ReadModelTarget, sql: str) -> None:
    database, _ = open_database(db)
    try:
        database.execute(sql)
    finally:
        database.close()


def projected_run(
    db: ReadModelTarget, tmp_path: Path, prefix: str, **options: int
) -> tuple[SqliteEventLog, ReadModelTarget, History]:
    """One example's history in a SQLite log, projected with the view history ``options``."""
    log = log_for(db, tmp_path)
    history = next(h for h in example_histories() if h.run_id.startswith(prefix))
    log.append(history.stream, list(history.events), NO_STREAM)
    with Projector(log, db, read_models=models(**options)) as projector:
        projector.catch_up()
    return log, db, history


def every_point_matches(log: EventLog, db: ReadModelTarget) -> int:
    reader = ViewHistoryReader(db)
    checked = 0
    try:
        for stream in log.streams("run:"):
            states = states_by_version(decoded_stream(log, stream))
            run_id = states[0].run_id
            for version, state in enumerate(states, start=1):
                found = reader.view_at(run_id, version)
                assert found is not None
                assert found.to_dict() == run_view(state), f"{run_id} after event {version}"
                checked += 1
            assert reader.view_at(run_id, 0) is None
    finally:
        reader.close()
    return checked


@pytest.mark.parametrize(("checkpoint_every", "page_size", "tracked_runs"), [(4, 3, 1024), (1, 1, 2), (7, 64, 1)])
def test_every_point_of_every_run_equals_the_folded_view(
    read_model_target: ReadModelTarget, tmp_path: Path, checkpoint_every: int, page_size: int, tracked_runs: int
) -> None:
    db = read_model_target
    log = log_for(db, tmp_path)
    fill(log, histories())
    with Projector(log, db, batch_size=17, read_models=models(checkpoint_every, page_size, tracked_runs)) as p:
        p.catch_up()
    assert every_point_matches(log, db) == log.last_position()
    log.close()


def test_checkpoints_write_only_the_pages_that_changed(read_model_target: ReadModelTarget, tmp_path: Path) -> None:
    log, db, history = projected_run(read_model_target, tmp_path, "02-dag-linear", checkpoint_every=2, page_size=1)
    database, _ = open_database(db)
    checkpoints = database.fetchall("SELECT version, node_count FROM view_checkpoints ORDER BY version")
    (pages,) = database.fetchone("SELECT count(*) FROM view_pages") or (0,)
    database.close()
    # A linear DAG changes one or two nodes between checkpoints two events apart; writing
    # every page at every checkpoint would be the sum of the node counts.
    assert len(checkpoints) == len(history.events) // 2
    assert pages < sum(count for _version, count in checkpoints) / 2
    assert every_point_matches(log, db) == len(history.events)
    log.close()


class Exploding:
    tables: tuple[TableSpec, ...] = ()

    def __init__(self, at_position: int) -> None:
        self.at_position, self.seen, self.armed = at_position, 0, True

    def on_run_change(self, change: RunChange, sink: RowSink) -> None:
        self.seen += 1
        if self.armed and self.seen == self.at_position:
            raise RuntimeError("boom")


def test_after_a_failed_batch_the_next_checkpoint_writes_every_page(
    read_model_target: ReadModelTarget, tmp_path: Path
) -> None:
    db = read_model_target
    log = log_for(db, tmp_path)
    fill(log, histories())
    exploding = Exploding(at_position=log.last_position() // 2)
    projector = Projector(log, db, batch_size=10, read_models=[*models(checkpoint_every=5, page_size=2), exploding])
    with pytest.raises(RuntimeError, match="boom"):
        projector.catch_up()
    exploding.armed = False
    projector.catch_up()
    projector.close()
    assert every_point_matches(log, db) == log.last_position()
    log.close()


def test_time_travel_reads_the_history_and_diffs_only_changed_nodes(
    read_model_target: ReadModelTarget, tmp_path: Path
) -> None:
    log, db, history = projected_run(read_model_target, tmp_path, "05-", checkpoint_every=3, page_size=2)
    projector = Projector(log, db, read_models=models(checkpoint_every=3, page_size=2))
    engine = Engine(log, workers=0, projector=projector, view_history=ViewHistoryReader(projector.db))
    travel, run_id, last = TimeTravel(engine), history.run_id, len(history.events)
    for a, b in [(1, last), (last, 1), (2, 5), (5, 5)]:
        before, after = (view_of_state(engine.state_at(run_id, n)).to_dict() for n in (a, b))
        assert travel.diff(run_id, a, b) == diff_views(before, after)
    found = travel.view_at(run_id, last + 100)  # past the end: the run as it is now
    assert found is not None and found.to_dict() == engine.get(run_id)
    assert travel.fallback_reason is None
    projector.close()
    log.close()


def test_a_missing_page_is_a_clear_error(read_model_target: ReadModelTarget, tmp_path: Path) -> None:
    log, db, history = projected_run(read_model_target, tmp_path, "02-dag-linear", checkpoint_every=4, page_size=1)
    execute(db, "DELETE FROM view_pages WHERE page = 0")
    database, _ = open_database(db)
    with pytest.raises(ViewHistoryGap, match="page 0 of checkpoint"):
        ViewHistoryReader(database).view_at(history.run_id, len(history.events))
    database.close()
    log.close()


def test_a_change_without_its_creation_is_a_clear_error(read_model_target: ReadModelTarget, tmp_path: Path) -> None:
    log, db, history = projected_run(read_model_target, tmp_path, "02-dag-linear", checkpoint_every=10_000)
    # The node's first change is its creation: the one that holds its "id".
    execute(
        db,
        "DELETE FROM node_view_history WHERE seq = 0 AND version = "
        "(SELECT MIN(version) FROM node_view_history WHERE seq = 0)",
    )
    database, _ = open_database(db)
    with pytest.raises(ViewHistoryGap, match="changes before it was created"):
        ViewHistoryReader(database).view_at(history.run_id, len(history.events))
    database.close()
    log.close()


def test_time_travel_catches_up_only_when_the_point_is_not_projected_yet(
    read_model_target: ReadModelTarget, tmp_path: Path
) -> None:
    log, db, history = projected_run(read_model_target, tmp_path, "02-dag-linear", checkpoint_every=4, page_size=2)
    other = next(h for h in example_histories() if h.run_id.startswith("05-"))
    log.append(other.stream, list(other.events), NO_STREAM)  # not projected yet
    projector = Projector(log, db, read_models=models())
    engine = Engine(log, workers=0, projector=projector, view_history=ViewHistoryReader(projector.db))
    calls: list[int] = []
    catch_up = engine.catch_up_projections
    engine.catch_up_projections = lambda: calls.append(1) or catch_up()  # type: ignore[method-assign]
    travel = TimeTravel(engine)
    assert travel.view_at(history.run_id, 3) is not None
    assert travel.seq_at_time(history.run_id, "2100-01-01T00:00:00Z") == len(history.events)
    assert calls == [], "the run was projected: nothing to catch up"
    found = travel.view_at(other.run_id, len(other.events))
    assert calls == [1]
    assert found is not None and found.to_dict() == engine.get(other.run_id)
    projector.close()
    log.close()
