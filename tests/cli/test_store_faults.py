"""A damaged, empty, locked or full database gives one line naming the file and the
problem, and exit code 3: never a traceback, never a new database in place of a broken one.

Real faults: garbage written over the file's pages, a 0-byte file, a second connection
holding the write lock, and a file size limit (``RLIMIT_FSIZE``, no root needed) standing
in for a full disk.
"""

from __future__ import annotations

import resource
import signal
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from support.commands import aether_command

from aether.cli.store_faults import EXIT_STORE_FAULT

pytestmark = pytest.mark.spec("15")

AETHER = aether_command()
WORKFLOW = """
apiVersion: aether/v1
kind: Workflow
metadata: {name: faults}
spec:
  entrypoint: main
  templates:
    - dag:
        name: main
        tasks:
          - name: work
            executor: {type: echo}
"""


def aether(*args: str, preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AETHER, *args], capture_output=True, text=True, timeout=90, preexec_fn=preexec_fn)


def assert_named_fault(done: subprocess.CompletedProcess[str], db: Path, problem: str) -> None:
    assert done.returncode == EXIT_STORE_FAULT, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(db) in lines[0]
    assert problem in lines[0]


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "wf.yaml"
    path.write_text(WORKFLOW)
    return path


@pytest.fixture
def database(tmp_path: Path, document: Path) -> Path:
    db = tmp_path / "aether.db"
    done = aether("run", str(document), "--db", str(db))
    assert done.returncode == 0, done.stderr
    return db


def test_a_zero_byte_file_is_not_taken_for_a_new_database(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    db.touch()
    for command in (["list"], ["get", "run:x"], ["history", "x"]):
        assert_named_fault(aether(*command, "--db", str(db)), db, "empty file (0 bytes)")
    assert db.stat().st_size == 0


def test_damaged_pages_are_named(database: Path) -> None:
    size = database.stat().st_size
    with database.open("r+b") as file:
        for offset in range(8192, size - 4096, 4096):
            file.seek(offset + 100)
            file.write(bytes(range(256)) * 8)
    assert_named_fault(aether("list", "--db", str(database)), database, "damaged")


def test_a_locked_database_at_submit_is_named(database: Path, document: Path) -> None:
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        done = aether("submit", str(document), "--db", str(database))
    finally:
        holder.close()
    assert_named_fault(done, database, "locked")


def test_a_full_disk_at_submit_is_named(database: Path, document: Path) -> None:
    def small_files() -> None:
        # EFBIG instead of the SIGXFSZ that would kill the process without a word.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    before = sqlite3.connect(database).execute("SELECT count(*) FROM events").fetchone()
    done = aether("submit", str(document), "--db", str(database), preexec_fn=small_files)
    assert_named_fault(done, database, "could not be written")
    after = sqlite3.connect(database).execute("SELECT count(*) FROM events").fetchone()
    assert after == before  # nothing half-written
