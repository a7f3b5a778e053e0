"""The projector: tables equal to what the states say, live == rebuild, position, atomicity,
on SQLite and PostgreSQL alike (``read_model_target``), and projectors sharing a database."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from projection_support import (
    History,
    brute_force_transitions,
    decoded_stream,
    example_histories,
    fill,
    history_named,
    interleaved,
    states_by_version,
    template_ref_history,
)
from support.read_model_databases import ReadModelTarget, Tables, table_rows

from aether.events.catalog import NodeCreated
from aether.events.codec import encode
from aether.projections.read_model_base import RowSink, RunChange, TableSpec
from aether.projections.read_models import PHASE_HISTORY, RunsModel, default_read_models
from aether.projections.snapshots import Snapshotter
from aether.projections.views import node_view, run_view
from aether.reducers.state import RunState
from aether.store.base import ANY_VERSION, NO_STREAM, EventLog
from aether.store.memory import InMemoryEventLog
from aether.store.projector import POSITION_TABLE, ProjectionError, Projector
from aether.store.sql_database import SqlDatabase, SqliteDatabase
from aether.testing.adapters import EventLogFactory

pytestmark = pytest.mark.spec("6.1")


def histories() -> list[History]:
    return [*example_histories(), template_ref_history()]


def dump(target: ReadModelTarget | SqlDatabase) -> Tables:
    return table_rows(target)


@pytest.fixture
def log_and_db(
    event_log_factory: EventLogFactory, read_model_target: ReadModelTarget
) -> tuple[EventLog, ReadModelTarget]:
    """An event log of each registered adapter and the database the projector writes: an
    SQLite file (the log's own, for SQLite) or a PostgreSQL database."""
    log = event_log_factory.new()
    if isinstance(read_model_target, Path):
        return log, event_log_factory.views_path(log)
    return log, read_model_target


# --- the tables say what the states say -----------------------------------------------------


def final_states(log: EventLog) -> dict[str, tuple[RunState, int]]:
    out = {}
    for stream in log.streams("run:"):
        states = states_by_version(decoded_stream(log, stream))
        out[states[-1].run_id] = (states[-1], len(states))
    return out


def test_tables_match_run_view_node_view_and_a_brute_force_phase_scan(
    log_and_db: tuple[EventLog, ReadModelTarget],
) -> None:
    log, db = log_and_db
    fill(log, histories())
    with Projector(log, db, batch_size=50) as projector:
        assert projector.catch_up() == log.last_position()
    tables = dump(db)
    states = final_states(log)

    runs = {row[0]: row for row in tables["runs"]}
    assert set(runs) == set(states)
    for run_id, (state, version) in states.items():
        view = run_view(state)
        row = runs[run_id]
        assert row[:5] == (view["runId"], view["name"], view["namespace"], view["phase"], view["message"])
        assert row[5:9] == (
            view["createdAt"] or None,
            view["startedAt"] or None,
            view["finishedAt"] or None,
            view["progress"],
        )
        assert row[9] == ((state.cron or {}).get("name"))
        assert orjson.loads(row[10]) == (state.document.get("metadata") or {}).get("labels", {})
        assert row[11] == version
    assert orjson.loads(runs["template-ref"][10]) == {"team": "a"}

    tasks = {(row[0], row[1]): row for row in tables["tasks"]}
    expected_tasks = {
        (run_id, node.node_id): (run_id, node)
        for run_id, (state, _) in states.items()
        for node in state.nodes_in_order()
    }
    assert set(tasks) == set(expected_tasks)
    for key, (_, node) in expected_tasks.items():
        view = node_view(node)
        row = tasks[key]
        assert row[2] == node.seq
        assert row[3:13] == (
            view["parentId"],
            view["taskName"],
            view["templateName"],
            view["templateType"],
            view["phase"],
            view["message"],
            view["depth"],
            view["index"],
            view["retryCount"],
            view["attempts"],
        )
        assert orjson.loads(row[13]) == view["inputs"]
        assert orjson.loads(row[14]) == view["outputs"]
        assert row[15:] == (view["createdAt"] or None, view["startedAt"] or None, view["finishedAt"] or None)

    expected_history = []
    for stream in log.streams("run:"):
        events = decoded_stream(log, stream)
        expected_history += brute_force_transitions(states_by_version(events)[0].run_id, events)
    # ordinal (r[2]) numbers the transitions of one event from 0, in the order they came.
    assert all(r[2] == 0 for r in tables["phase_history"] if r[1] == 1)
    got_history = sorted((r[:2] + r[3:] for r in tables["phase_history"]), key=lambda r: (r[0], r[1], r[3]))
    assert got_history == sorted(expected_history, key=lambda r: (r[0], r[1], r[3]))


def test_phase_history_has_the_implied_transitions(read_model_db: SqlDatabase) -> None:
    log = InMemoryEventLog()
    history = history_named("09-dag-retry+dup")
    log.append(history.stream, list(history.events), NO_STREAM)
    Projector(log, read_model_db).catch_up()
    rows = read_model_db.fetchall(
        "SELECT node_id, from_phase, to_phase, event_type FROM phase_history ORDER BY seq, node_id"
    )
    by_type: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_type.setdefault(row[3], []).append(row[:3])
    assert ("", None, "Created") in by_type["WorkflowSubmitted"]
    assert all(to == "Created" and frm is None for _, frm, to in by_type["NodeCreated"])
    # A leaf created and dispatched by one decision is one record, and two steps (§6.6.1).
    created_and_dispatched = by_type["TaskDispatched"]
    assert ("main/flaky", None, "Created") in created_and_dispatched
    assert all(to == "Ready" for _, frm, to in created_and_dispatched if frm is not None)
    assert ("", "Running", "Succeeded") in by_type["WorkflowCompleted"]
    # A start moves its leaf to Running; a result moves it on to its terminal phase.
    assert {(frm, to) for _, frm, to in by_type["TaskStarted"]} == {("Ready", "Running")}
    assert {to for _, _, to in by_type["TaskResultReported"]} <= {"Succeeded", "Failed", "Error"}
    assert "InputIgnored" not in by_type


# --- live == rebuild -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cache_size", "every"),
    [(1024, None), (2, 4), (1, None)],
    ids=["cached", "evicting-with-snapshots", "evicting-refolding"],
)
def test_live_projection_equals_rebuild(
    event_log_factory: EventLogFactory,
    log_and_db: tuple[EventLog, ReadModelTarget],
    cache_size: int,
    every: int | None,
) -> None:
    log, db = log_and_db
    snapshots = event_log_factory.snapshots(log) if every is not None else None
    live = Projector(
        log,
        db,
        batch_size=7,
        cache_size=cache_size,
        snapshots=snapshots,
        snapshotter=Snapshotter(every) if every else None,
    )
    for i, (stream, events) in enumerate(interleaved(histories(), seed=11)):
        log.append(stream, events, ANY_VERSION)
        if i % 3 == 0:
            live.catch_up()
    live.catch_up()
    assert live.behind() == 0
    if snapshots is not None:  # the eviction path really had snapshots to start from
        assert sum(snapshots.latest(s) is not None for s in log.streams("run:")) > 20
    live_tables = dump(db)
    live.close()

    rebuilt = Projector(log, db)
    assert rebuilt.position == log.last_position()  # resumed from the stored position
    assert rebuilt.rebuild() == log.last_position()
    assert dump(db) == live_tables
    assert sum(len(rows) for rows in live_tables.values()) > 900  # not vacuous
    rebuilt.close()

    # A projector on a separate, fresh database agrees too.
    fresh = SqliteDatabase.in_memory()
    Projector(log, fresh, batch_size=1000).catch_up()
    assert dump(fresh) == live_tables


def test_restarted_projector_continues_where_it_stopped(read_model_target: ReadModelTarget) -> None:
    log = InMemoryEventLog()
    requests = interleaved(histories(), seed=3)
    half = len(requests) // 2
    for stream, events in requests[:half]:
        log.append(stream, events, ANY_VERSION)
    first = Projector(log, read_model_target, batch_size=13)
    first.catch_up()
    stopped_at = first.position
    first.close()
    for stream, events in requests[half:]:
        log.append(stream, events, ANY_VERSION)
    second = Projector(log, read_model_target, batch_size=13)
    assert second.position == stopped_at
    assert second.behind() == log.last_position() - stopped_at
    second.catch_up()
    resumed = dump(read_model_target)
    second.rebuild()
    assert dump(read_model_target) == resumed
    second.close()


# --- position and behind() ----------------------------------------------------------------------


def test_behind_and_catch_up_after_new_appends(read_model_db: SqlDatabase) -> None:
    log = InMemoryEventLog()
    first, second = history_named("01"), history_named("02")
    projector = Projector(log, read_model_db, batch_size=4)
    assert projector.behind() == 0 and projector.catch_up() == 0
    log.append(first.stream, list(first.events), NO_STREAM)
    assert projector.behind() == len(first.events)
    assert projector.catch_up() == len(first.events)
    assert projector.behind() == 0 and projector.position == log.last_position()
    log.append(second.stream, list(second.events[:5]), NO_STREAM)
    assert projector.behind() == 5
    assert projector.catch_up() == 5
    row = read_model_db.fetchone("SELECT phase, last_version FROM runs WHERE run_id = ?", (second.run_id,))
    assert row is not None and row[1] == 5
    log.append(second.stream, list(second.events[5:]), 5)
    assert projector.catch_up() == len(second.events) - 5
    row = read_model_db.fetchone("SELECT phase, last_version FROM runs WHERE run_id = ?", (second.run_id,))
    assert row == ("Succeeded", len(second.events))
    assert read_model_db.fetchall(f"SELECT position FROM {POSITION_TABLE}") == [(log.last_position(),)]


def test_streams_other_than_runs_are_skipped_but_counted() -> None:
    log = InMemoryEventLog()
    history = history_named("01")
    log.append("submit-key:abc", [history.events[0]], NO_STREAM)  # any payload: never decoded
    log.append(history.stream, list(history.events), NO_STREAM)
    projector = Projector(log, SqliteDatabase.in_memory())
    assert projector.catch_up() == len(history.events) + 1
    assert projector.behind() == 0
    assert projector.db.fetchone("SELECT count(*) FROM runs") == (1,)


# --- failures ------------------------------------------------------------------------------------


class Exploding:
    tables: tuple[TableSpec, ...] = ()

    def __init__(self, at_version: int) -> None:
        self.at_version = at_version
        self.armed = True

    def on_run_change(self, change: RunChange, sink: RowSink) -> None:
        if self.armed and change.version == self.at_version:
            raise RuntimeError("boom")


def test_a_failing_batch_writes_nothing_and_the_next_attempt_recovers(read_model_db: SqlDatabase) -> None:
    log = InMemoryEventLog()
    history = history_named("02-dag-linear")
    log.append(history.stream, list(history.events), NO_STREAM)
    db = read_model_db
    exploding = Exploding(at_version=15)
    projector = Projector(log, db, batch_size=10, read_models=[*default_read_models(), exploding])
    with pytest.raises(RuntimeError, match="boom"):
        projector.catch_up()
    assert projector.position == 10  # the first batch committed, the second did not
    assert db.fetchall("SELECT max(seq) <= 10 FROM phase_history") == [(True,)]
    assert db.fetchall("SELECT last_version FROM runs") == [(10,)]
    exploding.armed = False
    projector.catch_up()
    want = SqliteDatabase.in_memory()
    Projector(log, want).catch_up()
    assert dump(db) == dump(want)


def test_an_illegal_history_is_a_projection_error() -> None:
    log = InMemoryEventLog()
    log.append("run:bad", [encode(NodeCreated("main", None, "main", "main", "dag", 0))], NO_STREAM)
    projector = Projector(log, SqliteDatabase.in_memory())
    with pytest.raises(ProjectionError, match="run:bad version 1"):
        projector.catch_up()
    assert projector.position == 0


# --- schema ------------------------------------------------------------------------------------


class EventCounts:
    """A read model added by a test: one handler, one table."""

    tables: tuple[TableSpec, ...] = (
        TableSpec("event_counts", (("event_type", "TEXT NOT NULL"), ("n", "INTEGER NOT NULL")), ("event_type",)),
    )

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def on_run_change(self, change: RunChange, sink: RowSink) -> None:
        kind = change.event.TYPE
        self.counts[kind] = self.counts.get(kind, 0) + 1
        n = self.counts[kind]
        sink.put("event_counts", (kind,), lambda: (kind, n))


def test_a_new_read_model_is_one_handler_and_changing_models_rebuilds(read_model_db: SqlDatabase) -> None:
    log = InMemoryEventLog()
    fill(log, [history_named("01"), history_named("02")])
    Projector(log, read_model_db).catch_up()

    counts = EventCounts()
    projector = Projector(log, read_model_db, read_models=[RunsModel(), counts])
    assert projector.position == 0  # another layout: the tables are rebuilt from the start
    projector.catch_up()
    tables = read_model_db.table_names()
    assert "tasks" not in tables and PHASE_HISTORY.name not in tables
    assert dict(read_model_db.fetchall("SELECT event_type, n FROM event_counts")) == counts.counts
    assert sum(counts.counts.values()) == log.last_position()
    projector.close()


def test_duplicate_table_names_are_refused() -> None:
    with pytest.raises(ValueError, match="same table"):
        Projector(InMemoryEventLog(), SqliteDatabase.in_memory(), read_models=[RunsModel(), RunsModel()])


# --- several projectors, one database -------------------------------------------------------


class AppliedBy:
    """One row per run event and projector that committed it: an event two projectors
    both applied shows up twice."""

    tables: tuple[TableSpec, ...] = (
        TableSpec(
            "applied",
            (("run_id", "TEXT NOT NULL"), ("version", "INTEGER NOT NULL"), ("projector", "TEXT NOT NULL")),
            ("run_id", "version", "projector"),
        ),
    )

    def __init__(self, projector: str) -> None:
        self.projector = projector

    def on_run_change(self, change: RunChange, sink: RowSink) -> None:
        sink.append("applied", (change.run_id, change.version, self.projector))


def test_projectors_sharing_a_database_apply_every_event_once(read_model_target: ReadModelTarget) -> None:
    """Two engines' projectors catching up on one database at the same time: each batch is
    written by one of them, and the tables are those one projector alone writes."""
    log = InMemoryEventLog()
    fill(log, histories())
    projectors = [
        Projector(log, read_model_target, batch_size=5, read_models=[*default_read_models(), AppliedBy(name)])
        for name in ("a", "b")
    ]
    start = threading.Barrier(len(projectors))
    failures: list[BaseException] = []

    def catch_up(projector: Projector) -> None:
        start.wait()
        try:
            projector.catch_up()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=catch_up, args=(p,)) for p in projectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert all(p.stored_position() == log.last_position() for p in projectors)

    applied = table_rows(read_model_target, AppliedBy("").tables)["applied"]
    run_events = [
        (e.stream.removeprefix("run:"), e.version) for e in log.read_all(0, 100_000) if e.stream.startswith("run:")
    ]
    assert sorted((run_id, version) for run_id, version, _ in applied) == sorted(run_events)
    alone = SqliteDatabase.in_memory()
    Projector(log, alone).catch_up()
    assert dump(read_model_target) == dump(alone)
    for projector in projectors:
        projector.close()
