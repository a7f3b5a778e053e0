"""The audit trail read from the ``phase_history`` table (``aether.store.audit``) is the
audit trail ``iter_history(..., phases_only=True)`` folds: every entry equal field for field
(seq, at, type, kind, node, summary, from, to, message), in the same order (within one
event: the nodes bottom up, then the run), with the same ``--node`` filter; and
``aether history RUN --phases-only`` prints it from the table."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from history_support import Driver, diamond_with_retry, rewrite_event, scripted_dag, stored_rows
from support.cli import aether
from support.documents import dag, dag_task, executor, loop, task, workflow

from aether.cli.history_cmd import history_entries
from aether.history.transfer import parse_lines
from aether.projections.history_entries import HistoryEntry, iter_history
from aether.projections.read_models import PHASE_HISTORY
from aether.runtime.engine import Engine
from aether.runtime.setup import sqlite_engine
from aether.store.audit import iter_phase_history
from aether.store.history_import import import_history
from aether.store.memory import InMemoryEventLog
from aether.store.projector import Projector
from aether.store.sql_database import SqlDatabase
from aether.store.sqlite import SqliteEventLog

pytestmark = pytest.mark.spec("6.6")


JSON = Any
CORPUS = Path(__file__).resolve().parents[2] / "replay"
HISTORIES = sorted(CORPUS.glob("*.jsonl"))


def folded(engine: Engine, run_id: str, node: str | None = None) -> list[HistoryEntry]:
    return list(iter_history(engine.events(run_id), phases_only=True, node=node))


def from_table(engine: Engine, run_id: str, node: str | None = None) -> list[HistoryEntry]:
    assert engine.projector is not None
    return list(iter_phase_history(engine.projector.db, run_id, node=node))


def node_filters(entries: list[HistoryEntry]) -> list[str]:
    """Every node of the trail, its ancestors' paths, and filters that match nothing or only
    look like a prefix: ``main/a`` must not take ``main/ab``; ``""`` is no node at all."""
    ids = sorted({e.node_id for e in entries if e.node_id is not None})
    prefixes = {node_id.rsplit("/", 1)[0] for node_id in ids if "/" in node_id}
    near = {node_id[:-1] for node_id in ids if len(node_id) > 1}  # a string prefix, not a path
    return sorted({*ids, *prefixes, *near, "", "nope", "MAIN"})


def assert_same_trail(engine: Engine, run_id: str) -> list[HistoryEntry]:
    want = folded(engine, run_id)
    assert want, f"{run_id}: no phase changes at all?"
    assert from_table(engine, run_id) == want
    for node in node_filters(want):
        assert from_table(engine, run_id, node) == folded(engine, run_id, node), f"{run_id} --node {node!r}"
    return want


# --- the recorded corpus -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict[str, str]]]:
    """Every history of ``replay/`` imported into one SQLite file (as ``aether import``
    does), the read models brought up to the log."""
    engine = sqlite_engine(tmp_path_factory.mktemp("corpus") / "corpus.db", workers=0)
    runs = {}
    for history in HISTORIES:
        parsed = parse_lines(history.read_bytes().splitlines(), str(history))
        runs[history.stem] = import_history(engine.log, parsed)
    engine.catch_up_projections()
    yield engine, runs
    engine.log.close()


def test_the_corpus_is_there() -> None:
    assert len(HISTORIES) >= 15


@pytest.mark.parametrize("history", HISTORIES, ids=lambda p: p.stem)
def test_recorded_history_trail_from_the_table_is_the_folded_trail(
    corpus: tuple[Engine, dict[str, str]], history: Path
) -> None:
    engine, runs = corpus
    assert_same_trail(engine, runs[history.stem])


def test_the_corpus_exercises_what_the_table_must_reproduce(corpus: tuple[Engine, dict[str, str]]) -> None:
    """Not vacuous: messages, nested nodes, inputs and decisions, times that move."""
    engine, runs = corpus
    entries = [e for run_id in runs.values() for e in folded(engine, run_id)]
    assert any(e.message for e in entries)
    assert any(e.node_id and e.node_id.count("/") >= 3 for e in entries)
    assert {e.kind for e in entries} == {"input", "decision"}
    assert any(e.node_id is None for e in entries)
    assert len({e.at for e in entries}) > len(runs)


def test_rows_of_one_event_come_back_in_the_order_they_were_inserted(read_model_db: SqlDatabase) -> None:
    """Today every event of the corpus changes at most one phase, but ``phase_transitions``
    may report several for one event (nodes bottom up, then the run): the table gives them
    back in the order the model numbered them (ordinal), not in node id order, and by seq
    first; in SQLite and PostgreSQL alike."""
    conn = read_model_db
    for sql in conn.dialect.create_table_sql(PHASE_HISTORY):
        conn.execute(sql)
    rows = [
        ("r", 5, 0, "2026-03-01T10:00:05.000Z", "main/b/loop[0]/c", "Running", "Failed", "boom", "NodeCompleted"),
        ("r", 5, 1, "2026-03-01T10:00:05.000Z", "main/b", "Running", "Failed", "child failed", "NodeCompleted"),
        ("r", 5, 2, "2026-03-01T10:00:05.000Z", "main", "Running", "Failed", "", "NodeCompleted"),
        ("r", 5, 3, "2026-03-01T10:00:05.000Z", "", "Running", "Failed", "main failed", "NodeCompleted"),
        ("r", 1, 0, "2026-03-01T10:00:00.000Z", "", None, "Created", "", "WorkflowSubmitted"),
        ("r", 3, 0, "2026-03-01T10:00:01.000Z", "main/a", None, "Skipped", "when false", "NodeCreated"),
        ("other", 2, 0, None, "main", None, "Created", "", "NodeCreated"),
    ]
    conn.executemany(conn.dialect.upsert_sql(PHASE_HISTORY), rows)
    got = [(e.seq, e.node_id, e.to_phase) for e in iter_phase_history(conn, "r")]
    assert got == [
        (1, None, "Created"),
        (3, "main/a", "Skipped"),
        (5, "main/b/loop[0]/c", "Failed"),
        (5, "main/b", "Failed"),
        (5, "main", "Failed"),
        (5, None, "Failed"),
    ]
    assert [e.node_id for e in iter_phase_history(conn, "r", node="main/b")] == ["main/b/loop[0]/c", "main/b"]
    assert [e.node_id for e in iter_phase_history(conn, "r", node="")] == []
    first = next(iter_phase_history(conn, "r"))
    assert first == HistoryEntry(
        1,
        "2026-03-01T10:00:00.000Z",
        "WorkflowSubmitted",
        "input",
        None,
        "run (new) -> Created [WorkflowSubmitted]",
        None,
        "Created",
        "",
    )
    assert next(iter_phase_history(conn, "other")).at == ""  # no time: as iter_history before any input


# --- runs made by the engine -------------------------------------------------------------------


def nested() -> dict[str, JSON]:
    """A DAG with a loop of DAGs, names that are string prefixes of each other (``a``, ``ab``)
    and a tolerated failure."""
    return workflow(
        "nested",
        dag(
            "main",
            dag_task("a", "leaf"),
            dag_task("ab", "fan", dependencies=["a"]),
            dag_task("bad", executor=executor("scripted"), continueOn={"failed": True}),
            dag_task("last", "leaf", dependencies=["ab", "bad"]),
        ),
        loop("fan", "pair", items=[1, 2, 3], concurrency=2),
        dag("pair", dag_task("x", "leaf"), dag_task("y", "leaf", dependencies=["x"])),
        task("leaf", executor("scripted")),
    )


@pytest.fixture
def engine_runs(tmp_path: Path) -> tuple[Path, list[str]]:
    """Runs made by the real engine on a SQLite log, with no projector: the read models
    are built when the file is opened with ``sqlite_engine``."""
    db = tmp_path / "runs.db"
    driver = Driver.on_sqlite(db, run_ids=["diamond", "nested", "failing", "cancelled"])
    driver.scripted.outcomes["bad"] = 2
    assert driver.engine.get(driver.run(diamond_with_retry()))["phase"] == "Succeeded"
    assert driver.engine.get(driver.run(nested()))["phase"] == "Succeeded"
    failing = scripted_dag(
        [{"name": "ok"}, {"name": "bad", "dependencies": ["ok"]}, {"name": "never", "dependencies": ["bad"]}]
    )
    assert driver.engine.get(driver.run(failing))["phase"] == "Failed"
    cancelled = driver.submit(scripted_dag([{"name": "one"}, {"name": "two"}]))
    driver.engine.pump()
    driver.engine.cancel(cancelled)
    driver.drive(cancelled)
    assert driver.engine.get(cancelled)["phase"] == "Cancelled"
    driver.log.close()
    return db, ["diamond", "nested", "failing", "cancelled"]


def test_engine_run_trails_from_the_table_are_the_folded_trails(engine_runs: tuple[Path, list[str]]) -> None:
    db, run_ids = engine_runs
    engine = sqlite_engine(db, workers=0)
    try:
        engine.catch_up_projections()
        for run_id in run_ids:
            assert_same_trail(engine, run_id)
        trail = folded(engine, "nested", "main/a")
        assert {e.node_id for e in trail} == {"main/a"}  # not main/ab
        assert {e.node_id for e in folded(engine, "nested", "main/ab")} >= {"main/ab/loop[2]/pair/y"}
    finally:
        engine.log.close()


@pytest.mark.parametrize("batch_size", [1, 3, 1000])
def test_order_survives_any_batching_a_rebuild_and_a_second_projector(
    engine_runs: tuple[Path, list[str]], batch_size: int
) -> None:
    """Rows are read back in the order the model numbered them: whatever the batches, after
    ``projections rebuild``, and when a projector that is behind catches up after another
    one (it goes on from the stored position instead of projecting the events again)."""
    db, run_ids = engine_runs
    log = SqliteEventLog(db)
    engine = Engine(log, workers=0)
    try:
        stale = Projector(log, db, batch_size=batch_size)  # position 0, like the first below
        projector = Projector(log, db, batch_size=batch_size)
        projector.catch_up()
        for run_id in run_ids:
            assert list(iter_phase_history(projector.db, run_id)) == folded(engine, run_id)
        projector.rebuild()
        stale.catch_up()
        assert stale.position == projector.position
        for run_id in run_ids:
            assert list(iter_phase_history(projector.db, run_id)) == folded(engine, run_id)
        stale.close()
        projector.close()
    finally:
        log.close()


def test_history_entries_without_a_projector_fold_the_run() -> None:
    driver = Driver(InMemoryEventLog(), run_ids=["mem"])
    driver.run(diamond_with_retry())
    engine = driver.engine
    assert engine.projector is None
    assert list(history_entries(engine, "mem", phases_only=True, node="main/c")) == folded(engine, "mem", "main/c")
    assert list(history_entries(engine, "mem", phases_only=True, node=None)) == folded(engine, "mem")


# --- the command line --------------------------------------------------------------------------


def text_line(e: HistoryEntry) -> str:
    reason = f"  ({e.message})" if e.message else ""
    return f"{e.seq:>7}  {e.at}  {e.node_id or '<run>'}: {e.from_phase or '-'} -> {e.to_phase}{reason}"


def json_record(e: HistoryEntry) -> dict[str, JSON]:
    return {
        "seq": e.seq,
        "at": e.at,
        "type": e.type,
        "node": e.node_id,
        "summary": e.summary,
        "from": e.from_phase,
        "to": e.to_phase,
        "message": e.message,
    }


def folded_from_log(db: Path, run_id: str, node: str | None = None) -> list[HistoryEntry]:
    log = SqliteEventLog(db)
    try:
        return list(iter_history(Engine(log, workers=0).events(run_id), phases_only=True, node=node))
    finally:
        log.close()


def phase_history_rows(db: Path, run_id: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM phase_history WHERE run_id = ?", (run_id,)).fetchone()[0])


def test_cli_phases_only_prints_the_trail_from_the_table(engine_runs: tuple[Path, list[str]]) -> None:
    db, run_ids = engine_runs
    for run_id in run_ids:
        for node in (None, "main/ab", "main/c", "main/a"):
            options = ["--node", node] if node is not None else []
            want = folded_from_log(db, run_id, node)
            result = aether(db, "history", run_id, "--phases-only", *options)
            assert result.exit_code == 0, result.stderr
            assert result.stdout.splitlines() == [text_line(e) for e in want]
            result = aether(db, "history", run_id, "--phases-only", "--json", *options)
            assert result.exit_code == 0, result.stderr
            assert [orjson.loads(line) for line in result.stdout.splitlines()] == [json_record(e) for e in want]
        # It came from the table, which the command brought up to the log first.
        assert phase_history_rows(db, run_id) == len(folded_from_log(db, run_id))
    nested = aether(db, "history", "nested", "--phases-only", "--node", "main/a").stdout.splitlines()
    assert [line.split(": ", 1)[1] for line in nested] == [
        "- -> Created",
        "Created -> Ready",
        "Ready -> Running",
        "Running -> Succeeded",
    ]


def test_cli_phases_only_catches_up_with_runs_recorded_since(tmp_path: Path) -> None:
    db = tmp_path / "later.db"
    driver = Driver.on_sqlite(db, run_ids=["first", "second"])
    driver.run(diamond_with_retry())
    assert aether(db, "history", "first", "--phases-only").exit_code == 0
    second = driver.submit(diamond_with_retry())
    driver.engine.pump()  # part of the run only
    partial = aether(db, "history", second, "--phases-only", "--json")
    assert [orjson.loads(line) for line in partial.stdout.splitlines()] == [
        json_record(e) for e in folded_from_log(db, second)
    ]
    driver.drive(second)
    done = aether(db, "history", second, "--phases-only", "--json")
    records = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert records == [json_record(e) for e in folded_from_log(db, second)]
    assert records[-1]["to"] == "Succeeded" and records[-1]["node"] is None
    driver.log.close()


def test_cli_phases_only_of_a_run_that_does_not_exist(engine_runs: tuple[Path, list[str]]) -> None:
    db, _ = engine_runs
    for options in ([], ["--json"], ["--node", "main"]):
        result = aether(db, "history", "nope", "--phases-only", *options)
        assert result.exit_code == 2
        assert result.stdout == ""
        assert "workflow run nope not found" in result.stderr


def test_cli_phases_only_folds_the_run_when_the_read_models_cannot_catch_up(tmp_path: Path) -> None:
    """An event the projector cannot fold (another run's, here) stops the read models; the
    audit trail of a healthy run is then folded from the log as before, and that of the
    damaged run fails with the event named."""
    db = tmp_path / "damaged.db"
    driver = Driver.on_sqlite(db, run_ids=["healthy", "damaged"])
    driver.run(diamond_with_retry())
    driver.run(diamond_with_retry())
    driver.log.close()
    version = next(v for v, type_name, _ in stored_rows(db, "damaged") if type_name == "TaskResultReported")
    rewrite_event(db, "damaged", version, b'{"nodeId": 7}')

    healthy = aether(db, "history", "healthy", "--phases-only", "--json")
    assert healthy.exit_code == 0
    assert "folding the run instead" in healthy.stderr
    assert [orjson.loads(line) for line in healthy.stdout.splitlines()] == [
        json_record(e) for e in folded_from_log(db, "healthy")
    ]
    damaged = aether(db, "history", "damaged", "--phases-only")
    assert damaged.exit_code == 2
    assert f"event {version} (TaskResultReported) cannot be decoded" in damaged.stderr
