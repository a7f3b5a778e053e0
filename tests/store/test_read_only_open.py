"""A database opened read-only answers every reading question through the query service
without changing a byte of the file, and refuses every write with a ``StoreError``.

The read models are left behind the log on purpose (events appended after the projector
last ran), so the reads must fold the log rather than catch the tables up. Tests run as
root here, where file permissions do not stop writes: the read-only mode is asked for
explicitly, and the file's bytes and modification time show nothing was written.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from support.cli import aether

from aether.runtime.queries import QueryService
from aether.runtime.setup import sqlite_engine
from aether.runtime.time_travel_queries import TimeTravel
from aether.store.base import PendingEvent, StoreError
from aether.store.sqlite import SqliteEventLog
from aether.store.sqlite_snapshots import SqliteSnapshotStore

pytestmark = pytest.mark.spec("15")

WORKFLOW = """
apiVersion: aether/v1
kind: Workflow
metadata: {name: readonly}
spec:
  entrypoint: main
  templates:
    - dag:
        name: main
        tasks:
          - name: first
            executor: {type: echo, config: {message: one}}
          - name: second
            dependencies: [first]
            executor: {type: echo, config: {message: two}}
"""


def populated(tmp_path: Path, *, lagging: bool) -> tuple[Path, str]:
    """A database holding one finished run; ``lagging``: its read models claim to reflect
    none of the log, as if the projector had not run since."""
    db = tmp_path / "aether.db"
    document = tmp_path / "wf.yaml"
    document.write_text(WORKFLOW)
    done = aether(db, "run", str(document))
    assert done.exit_code == 0, done.output
    listed = aether(db, "list", "--json")
    assert listed.exit_code == 0, listed.output
    run_id = str(json.loads(listed.stdout)[0]["runId"])
    settle(db, lagging=lagging)
    return db, run_id


def settle(db: Path, *, lagging: bool) -> None:
    """Checkpoint the WAL into the file; ``lagging``: set the read models' position back to 0."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        if lagging:
            conn.execute("UPDATE projector_position SET position = 0")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def fingerprint(db: Path) -> dict[str, tuple[str, int]]:
    """The bytes and modification time of the database and of its WAL. The ``-shm`` file is
    left out: it is SQLite's shared-memory index, where every reader, read-only or not,
    takes its read marks; it holds no data."""
    return {
        path.name: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        for path in sorted(db.parent.iterdir())
        if path.name.startswith(db.name) and not path.name.endswith("-shm")
    }


@pytest.mark.parametrize("lagging", [False, True], ids=["current", "lagging"])
def test_every_read_answers_read_only_and_the_file_is_untouched(tmp_path: Path, lagging: bool) -> None:
    db, run_id = populated(tmp_path, lagging=lagging)
    writable = QueryService(sqlite_engine(db, workers=0, drives="none"))
    expected_runs = writable.runs()
    expected_view = writable.get(run_id)
    expected_phases = list(writable.history(run_id, phases_only=True))
    expected_history = list(writable.history(run_id))
    expected_export = list(writable.export(run_id))
    # The writable engine caught the tables up: make them lag again for the read-only one.
    settle(db, lagging=lagging)
    before = fingerprint(db)

    engine = sqlite_engine(db, read_only=True)
    queries = QueryService(engine)
    assert engine.worker_count == 0 and engine.drives == "none"
    assert queries.runs() == expected_runs
    assert queries.get(run_id) == expected_view
    assert list(queries.history(run_id, phases_only=True)) == expected_phases
    assert list(queries.history(run_id)) == expected_history
    assert list(queries.export(run_id)) == expected_export
    status = queries.projection_status()
    assert status.behind == (engine.log.last_position() if lagging else 0)
    travel = TimeTravel(engine, queries)
    last = queries.last_version(run_id)
    assert travel.view_at(run_id, last) is not None
    assert travel.diff(run_id, 1, last)
    assert travel.seq_at_time(run_id, "2999-01-01T00:00:00Z") == last
    assert (queries.fallback_reason is not None) == lagging

    with pytest.raises(StoreError, match="read-only"):
        engine.log.append("run:intruder", [PendingEvent("Nothing", 1, b"{}")], 0)
    with pytest.raises(StoreError, match="read-only"):
        engine.log.coordination.offer(["intruder"])
    assert engine.snapshots is not None
    with pytest.raises(StoreError, match="read-only"):
        engine.snapshots.delete(f"run:{run_id}")
    with pytest.raises(StoreError, match="read-only"):
        queries.rebuild_projections()
    assert fingerprint(db) == before


def test_a_schema_it_would_have_to_migrate_is_refused_read_only(tmp_path: Path) -> None:
    db, _ = populated(tmp_path, lagging=False)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM aether_schema WHERE version = (SELECT max(version) FROM aether_schema)")
    settle(db, lagging=False)
    before = fingerprint(db)
    with pytest.raises(StoreError, match="open it once with write access"):
        SqliteEventLog(db, read_only=True)
    assert fingerprint(db) == before


def test_a_newer_schema_is_refused_read_only(tmp_path: Path) -> None:
    db, _ = populated(tmp_path, lagging=False)
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO aether_schema (version, description, applied_at) VALUES (999, 'future', 0)")
    with pytest.raises(StoreError, match="upgrade Aether"):
        SqliteEventLog(db, read_only=True)


def test_a_missing_file_is_not_created_read_only(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        SqliteEventLog(tmp_path / "absent.db", read_only=True)
    assert not (tmp_path / "absent.db").exists()


def test_snapshots_of_a_database_without_them_read_as_none(tmp_path: Path) -> None:
    db, run_id = populated(tmp_path, lagging=False)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE snapshots")
    store = SqliteSnapshotStore(db, read_only=True)
    assert store.latest(f"run:{run_id}") is None
    assert store.versions(f"run:{run_id}") == []
