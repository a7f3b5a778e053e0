"""Snapshots: stores, format checks, policy, and snapshot + tail == full fold on real histories."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from projection_support import (
    History,
    assert_same_state,
    example_histories,
    history_named,
    states_by_version,
    template_ref_history,
)
from support.read_model_databases import ReadModelTarget

from aether.projections.snapshots import (
    SNAPSHOT_FORMAT,
    SnapshotStore,
    Snapshotter,
    dump_state,
    load_state,
)
from aether.reducers.run import apply
from aether.store.base import NO_STREAM, EventLog
from aether.store.loading import load_run_state
from aether.store.memory import InMemoryEventLog
from aether.store.memory_snapshots import InMemorySnapshotStore
from aether.store.sql_database import open_database
from aether.store.sql_snapshots import SqlSnapshotStore
from aether.store.sqlite import SqliteEventLog
from aether.store.sqlite_snapshots import SqliteSnapshotStore


def all_histories() -> list[History]:
    return [*example_histories(), template_ref_history()]


def logged(history: History, log: EventLog | None = None) -> EventLog:
    log = log if log is not None else InMemoryEventLog()
    log.append(history.stream, list(history.events), NO_STREAM)
    return log


# --- snapshot + tail == full fold --------------------------------------------------------------


@pytest.mark.parametrize("every", [1, 3, 7])
def test_snapshot_plus_tail_equals_full_fold_at_every_version(every: int) -> None:
    policy = Snapshotter(every)
    for history in all_histories():
        states = states_by_version(history.decoded())
        log = logged(history)
        store = InMemorySnapshotStore(keep=None)
        for version, state in enumerate(states, start=1):
            if policy.due(version - 1, version):
                store.save(history.stream, version, state)
        for version, want in enumerate(states, start=1):
            got, got_version = load_run_state(log, history.stream, store, to_version=version)
            assert got_version == version
            assert_same_state(got, want)


def test_pickled_snapshot_then_the_rest_of_the_run_equals_a_full_fold() -> None:
    # Through pickle the plan is rebuilt from the document and templates: every later
    # event (which looks templates up in the plan) must fold exactly as before.
    for history in all_histories():
        events = history.decoded()
        states = states_by_version(events)
        for version, state in enumerate(states, start=1):
            restored = load_state(dump_state(state))
            assert_same_state(restored, state)
            for event in events[version:]:
                restored = apply(restored, event)
            assert_same_state(restored, states[-1])


def test_a_snapshot_rebuilds_the_referenced_templates_from_the_state() -> None:
    history = template_ref_history()
    submitted = history.decoded()[0]
    state = states_by_version(history.decoded())[-1]
    assert set(state.plan.scopes) == {"", "lib"}
    assert state.templates_snapshot == submitted.templates_snapshot  # type: ignore[attr-defined]
    restored = load_state(dump_state(state))
    assert restored.plan.scopes == state.plan.scopes
    assert restored == state


def sql_store(target: ReadModelTarget, *, keep: int | None, format: str = SNAPSHOT_FORMAT) -> SqlSnapshotStore:
    """A snapshot store in the SQLite file or PostgreSQL database ``target``."""
    db, _ = open_database(target)
    return SqlSnapshotStore(db, keep=keep, format=format, owns_db=True)


def test_sql_store_round_trips_every_version_of_a_real_history(read_model_target: ReadModelTarget) -> None:
    history = history_named("09-dag-retry+dup")
    states = states_by_version(history.decoded())
    log = logged(history)
    with sql_store(read_model_target, keep=None) as store:
        for version, state in enumerate(states, start=1):
            store.save(history.stream, version, state)
        for version, want in enumerate(states, start=1):
            found = store.latest(history.stream, version)
            assert found is not None and found[0] == version
            assert_same_state(found[1], want)
            got, _ = load_run_state(log, history.stream, store, to_version=version)
            assert_same_state(got, want)
    log.close()


# --- the store contract, on every store ----------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., SnapshotStore]]:
    """Snapshot stores of each kind: in memory, in an SQLite file, in a PostgreSQL database."""
    opened: list[SqlSnapshotStore] = []

    def make(keep: int | None = 2) -> SnapshotStore:
        if request.param == "memory":
            return InMemorySnapshotStore(keep=keep)
        target = tmp_path / "aether.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
        opened.append(sql_store(target, keep=keep))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


def test_latest_respects_at_or_before_and_delete(store_factory) -> None:  # type: ignore[no-untyped-def]
    history = history_named("02-dag-linear")
    states = states_by_version(history.decoded())
    store = store_factory(keep=None)
    assert store.latest(history.stream) is None
    for version in (5, 10, 15):
        store.save(history.stream, version, states[version - 1])
    assert [store.latest(history.stream, v)[0] for v in (5, 9, 10, 14, 15, 99)] == [5, 5, 10, 10, 15, 15]
    assert store.latest(history.stream, 4) is None
    latest = store.latest(history.stream)
    assert latest is not None and latest[0] == 15
    assert_same_state(latest[1], states[14])
    assert store.latest("run:other") is None
    store.delete(history.stream)
    assert store.latest(history.stream) is None


def test_keep_bounds_the_snapshots_of_a_stream(store_factory) -> None:  # type: ignore[no-untyped-def]
    history = history_named("02-dag-linear")
    states = states_by_version(history.decoded())
    store = store_factory(keep=2)
    for version in (3, 6, 9, 12):
        store.save(history.stream, version, states[version - 1])
    assert store.latest(history.stream, 8) is None  # 3 and 6 were dropped
    assert store.latest(history.stream, 11)[0] == 9
    assert store.latest(history.stream)[0] == 12


def test_save_refuses_a_version_below_one(store_factory) -> None:  # type: ignore[no-untyped-def]
    state = states_by_version(history_named("01").decoded())[0]
    with pytest.raises(ValueError):
        store_factory().save("run:x", 0, state)


# --- format and corruption ------------------------------------------------------------------


def test_snapshots_of_another_format_are_ignored_and_replaced(read_model_target: ReadModelTarget) -> None:
    history = history_named("02-dag-linear")
    states = states_by_version(history.decoded())
    log = logged(history)
    with sql_store(read_model_target, format="runstate-pickle5/0/older", keep=None) as old:
        old.save(history.stream, 10, states[9])
        assert old.latest(history.stream) is not None  # usable by the Aether that wrote it
    with sql_store(read_model_target, keep=None) as store:
        assert store.format == SNAPSHOT_FORMAT
        assert store.versions(history.stream) == [(10, "runstate-pickle5/0/older")]
        assert store.latest(history.stream) is None
        got, version = load_run_state(log, history.stream, store)
        assert version == len(states)
        assert_same_state(got, states[-1])
        store.save(history.stream, 15, states[14])
        assert store.versions(history.stream) == [(15, SNAPSHOT_FORMAT)]  # the stale one is gone
    log.close()


def test_an_unreadable_snapshot_falls_back_to_an_older_one(read_model_target: ReadModelTarget) -> None:
    history = history_named("02-dag-linear")
    states = states_by_version(history.decoded())
    with sql_store(read_model_target, keep=None) as store:
        store.save(history.stream, 5, states[4])
        store.save(history.stream, 10, states[9])
        store.db.execute("UPDATE snapshots SET data = ? WHERE version = 10", (b"not a pickle",))
        found = store.latest(history.stream)
        assert found is not None and found[0] == 5
        assert_same_state(found[1], states[4])


def test_a_snapshot_from_another_history_is_not_used() -> None:
    # Same stream name, different run (a log file replaced under its snapshots): the
    # snapshot's event count disagrees with its version, so the loader folds from scratch.
    history = history_named("02-dag-linear")
    other = states_by_version(history_named("03-dag-parallel").decoded())
    store = InMemorySnapshotStore()
    store.save(history.stream, 10, other[4])
    got, _ = load_run_state(logged(history), history.stream, store)
    assert_same_state(got, states_by_version(history.decoded())[-1])


def test_snapshot_tables_live_beside_the_log_without_touching_it(tmp_path: Path) -> None:
    path = tmp_path / "aether.db"
    history = history_named("01")
    log = logged(history, SqliteEventLog(path))
    before = list(log.read(history.stream))
    with SqliteSnapshotStore(path) as store:
        store.save(history.stream, 3, states_by_version(history.decoded())[2])
        store.delete(history.stream)
    log.append(history.stream, [history.events[0]], len(before))  # the log still works
    assert list(log.read(history.stream))[: len(before)] == before
    tables = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"events", "streams", "snapshots"} <= tables
    log.close()


# --- loading ---------------------------------------------------------------------------------


def test_load_run_state_edges() -> None:
    history = history_named("02-dag-linear")
    log = logged(history)
    states = states_by_version(history.decoded())
    assert load_run_state(log, "run:nope", None) == (None, 0)
    assert load_run_state(log, history.stream, None, to_version=0) == (None, 0)
    got, version = load_run_state(log, history.stream, None, to_version=10_000)
    assert version == len(states)
    assert_same_state(got, states[-1])


def test_load_run_state_saves_snapshots_while_folding_the_tail() -> None:
    history = history_named("07-loop-aggregate")
    n = len(history.events)
    log = logged(history)
    store = InMemorySnapshotStore(keep=None)
    load_run_state(log, history.stream, store, snapshotter=Snapshotter(10))
    assert store.versions(history.stream) == list(range(10, n + 1, 10))
    # A later load starts from the newest of them.
    got, version = load_run_state(log, history.stream, store)
    assert version == n
    assert_same_state(got, states_by_version(history.decoded())[-1])


# --- policy -------------------------------------------------------------------------------------


def test_snapshotter_fires_when_a_stream_crosses_a_multiple() -> None:
    default = Snapshotter()
    assert default.every == 1000
    assert default.due(999, 1000)
    assert default.due(998, 2005)
    assert default.due(0, 1000)
    assert not default.due(0, 999)
    assert not default.due(1000, 1999)
    assert Snapshotter(3).due(2, 3) and not Snapshotter(3).due(3, 5)
    with pytest.raises(ValueError):
        Snapshotter(0)


def test_format_names_the_layout_of_the_state_classes() -> None:
    assert SNAPSHOT_FORMAT.startswith("runstate-pickle5/1/")
    assert len(SNAPSHOT_FORMAT.rsplit("/", 1)[1]) == 16
