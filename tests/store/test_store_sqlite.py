"""What only the SQLite adapter promises: one file shared by processes, crash atomicity,
schema versioning, pragmas, and ``open_log``."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from store_support import process_writer

from aether.store import (
    NO_STREAM,
    InMemoryEventLog,
    SqliteEventLog,
    StoreError,
    open_log,
)
from aether.store.migrations import LATEST_VERSION, SCHEMA_TABLE
from aether.testing.log_checks import assert_log_consistent, event, events, payload

pytestmark = pytest.mark.spec("15")

HERE = Path(__file__).parent


def wait_until(condition: Callable[[], bool], child: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert child.poll() is None, f"the child exited early (status {child.returncode})"
        assert time.monotonic() < deadline, "the child never got there"
        time.sleep(0.0005)


# -- two processes, one file ------------------------------------------------------------------


def test_two_processes_appending_to_one_file_never_lose_or_duplicate_a_version(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    SqliteEventLog(path).close()  # create the schema before the race
    rounds = 150
    # spawn, not fork: a forked child would inherit pytest's threads and open handles.
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    results = ctx.Queue()
    workers = [ctx.Process(target=process_writer, args=(path, me, rounds, start, results)) for me in (0, 1)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    reported = dict(results.get(timeout=5) for _ in workers)
    assert sorted(reported) == [0, 1]
    assert sum(reported.values()) > 0, "the processes never raced: the test exercised nothing"

    with SqliteEventLog(path) as log:
        assert_log_consistent(log)  # positions strictly increase, versions 1..n everywhere
        shared = [payload(e) for e in log.read("shared")]
        assert len(shared) == 2 * rounds
        assert Counter(shared).most_common(1)[0][1] == 1
        for me in (0, 1):
            assert [n for tag, n in shared if tag == f"p{me}"] == list(range(rounds))
            private = [payload(e) for e in log.read(f"private-{me}")]
            assert private == [(f"p{me}", n) for n in range(1, rounds, 2)]


# -- crash mid-batch ---------------------------------------------------------------------------

CRASH_EVENTS = 20_000
WAL_SPILL_BYTES = 64 * 1024


def wal_has_spilled(path: str) -> bool:
    """True once the child's open transaction has written frames to the WAL.

    The batch (~5 MB) outgrows SQLite's page cache, so pages spill into the WAL before
    COMMIT: a kill then leaves uncommitted frames on disk for recovery to discard.
    """
    try:
        return os.path.getsize(path + "-wal") > WAL_SPILL_BYTES
    except FileNotFoundError:
        return False


# When to SIGKILL the child, after it signalled that append_batch is about to start:
# fixed short delays (plus jitter), as soon as uncommitted frames reach the WAL, or late
# enough that the batch has usually committed.
KILL_POINTS = ["started+0ms", "started+20ms", "started+50ms", "wal-spilled", "started+400ms"]


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_a_process_killed_mid_batch_leaves_all_or_nothing(tmp_path: Path, kill_at: str) -> None:
    path = str(tmp_path / "crash.db")
    with SqliteEventLog(path) as log:
        log.append("before", events("before", 3), NO_STREAM)
    child = subprocess.Popen(
        [sys.executable, str(HERE / "store_crash_child.py"), path, str(tmp_path), str(CRASH_EVENTS)]
    )
    try:
        wait_until(lambda: (tmp_path / "started").exists(), child)
        if kill_at == "wal-spilled":
            wait_until(lambda: wal_has_spilled(path) or (tmp_path / "committed").exists(), child)
            time.sleep(random.uniform(0, 0.002))
        else:
            time.sleep(int(kill_at.split("+")[1].removesuffix("ms")) / 1000 + random.uniform(0, 0.005))
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()  # no-op if already dead; never leave it running
        child.wait(timeout=30)
    committed = (tmp_path / "committed").exists()

    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with SqliteEventLog(path) as log:
        sizes = {log.stream_version(f"big-{k}") for k in range(4)}
        assert sizes in ({0}, {CRASH_EVENTS // 4}), f"a partial batch survived: {sizes}"
        if committed:
            assert sizes == {CRASH_EVENTS // 4}
        assert [payload(e) for e in log.read("before")] == [("before", n) for n in range(3)]
        everything = assert_log_consistent(log)
        assert len(everything) == 3 + (CRASH_EVENTS if sizes != {0} else 0)
        # Still appendable, and positions keep growing after the recovered tail.
        top = log.last_position()
        assert log.append("after", [event("after")], NO_STREAM) == 1
        assert log.last_position() > top


# -- schema and opening ------------------------------------------------------------------------


def test_a_fresh_file_gets_the_latest_schema_once(tmp_path: Path) -> None:
    path = tmp_path / "schema.db"
    SqliteEventLog(path).close()
    SqliteEventLog(path).close()  # migrating again is a no-op
    with closing(sqlite3.connect(path)) as raw:
        applied = raw.execute(f"SELECT version FROM {SCHEMA_TABLE} ORDER BY version").fetchall()
        assert applied == [(v,) for v in range(1, LATEST_VERSION + 1)], "each migration applied once"
        columns = [row[1] for row in raw.execute("PRAGMA table_info(events)")]
        assert columns == ["position", "stream", "version", "type", "schema_version", "data", "recorded_at"]
        unique = [row for row in raw.execute("PRAGMA index_list(events)") if row[2]]
        assert [[c[2] for c in raw.execute(f"PRAGMA index_info({row[1]})")] for row in unique] == [
            ["stream", "version"]
        ]
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    SqliteEventLog(path).close()
    with closing(sqlite3.connect(path)) as raw:
        raw.execute(f"INSERT INTO {SCHEMA_TABLE} VALUES (?, ?, ?)", (LATEST_VERSION + 1, "from the future", 0.0))
        raw.commit()
    with pytest.raises(StoreError, match=rf"schema is version {LATEST_VERSION + 1}.*upgrade Aether"):
        SqliteEventLog(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not an sqlite file" * 100)
    with pytest.raises(StoreError, match="cannot open the event log"):
        SqliteEventLog(path)


@pytest.mark.parametrize(("mode", "level"), [("NORMAL", 1), ("full", 2), ("OFF", 0)])
def test_synchronous_is_configurable(tmp_path: Path, mode: str, level: int) -> None:
    with SqliteEventLog(tmp_path / "sync.db", synchronous=mode) as log:
        assert log.synchronous == mode.upper()
        conn = log._conn  # the pragma is per connection: look at the log's own
        assert conn is not None
        assert conn.execute("PRAGMA synchronous").fetchone() == (level,)
        assert conn.execute("PRAGMA busy_timeout").fetchone() == (10_000,)


def test_an_unknown_synchronous_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SqliteEventLog(tmp_path / "x.db", synchronous="SOMETIMES")


def test_a_writer_waits_for_another_connections_lock_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    with SqliteEventLog(path, busy_timeout_ms=5_000) as log:
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # as another process mid-append would
        releaser = threading.Timer(0.2, lambda: other.execute("COMMIT"))
        releaser.start()
        started = time.monotonic()
        assert log.append("s", [event("s")], NO_STREAM) == 1
        assert time.monotonic() - started >= 0.15
        releaser.join()
        other.close()


def test_without_a_busy_timeout_a_locked_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    with SqliteEventLog(path, busy_timeout_ms=0) as log:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match="locked"):
                log.append("s", [event("s")], NO_STREAM)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert log.append("s", [event("s")], NO_STREAM) == 1


# -- open_log ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [":memory:", "memory:", "memory://"])
def test_open_log_memory(target: str) -> None:
    log = open_log(target)
    assert isinstance(log, InMemoryEventLog)
    log.close()


def test_open_log_sqlite_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    absolute = tmp_path / "abs.db"
    cases = {
        f"sqlite:///{absolute}": str(absolute),  # sqlite:////abs/path
        "sqlite:///relative.db": "relative.db",
        "plain.db": "plain.db",
    }
    for target, path in cases.items():
        log = open_log(target)
        assert isinstance(log, SqliteEventLog) and log.path == path
        log.close()
    with open_log(tmp_path / "pathlike.db") as log:  # type: ignore[attr-defined]
        assert isinstance(log, SqliteEventLog)
    assert (tmp_path / "relative.db").exists() and (tmp_path / "plain.db").exists()


@pytest.mark.parametrize("target", ["postgresql://localhost/aether", "sqlite:///", ""])
def test_open_log_refuses_what_it_cannot_open(target: str) -> None:
    with pytest.raises(StoreError):
        open_log(target)
