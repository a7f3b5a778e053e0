"""Opening an SQLite file for reading only: for the reading commands on a database this
process may not write (a read-only file, directory or filesystem).

A read-only connection never migrates, never changes the journal mode and refuses every
write (``query_only``), so reading leaves the file's bytes untouched.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def is_writable(path: str | os.PathLike[str]) -> bool:
    """Whether this process may write the database at ``path``: the file, and its directory
    (a WAL database keeps its ``-wal`` and ``-shm`` files beside it)."""
    file = Path(path)
    directory = file.parent if str(file.parent) else Path(".")
    return os.access(file, os.W_OK) and os.access(directory, os.W_OK)


def connect_read_only(path: str | os.PathLike[str], *, busy_timeout_ms: int = 10_000) -> sqlite3.Connection:
    """A connection to ``path`` that can only read; it never creates the file."""
    file = Path(path).resolve()
    uri = f"{file.as_uri()}?mode=ro"
    if _nobody_can_write(file):
        # immutable=1 makes SQLite skip locking and the shared-memory file, which it could not
        # create here. That is safe only because no process can write this database either:
        # a writer needs to create a journal (or the -wal/-shm files) in the same directory,
        # and the directory is not writable. With a -wal or -shm present a writer could still
        # be at work, so those files are read the usual way instead.
        uri += "&immutable=1"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA query_only = ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _nobody_can_write(file: Path) -> bool:
    if os.access(file.parent, os.W_OK):
        return False
    return not any(Path(f"{file}{suffix}").exists() for suffix in ("-wal", "-shm", "-journal"))
