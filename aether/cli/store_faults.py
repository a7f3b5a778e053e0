"""Faults of the database file named in one line instead of a traceback.

A damaged, locked, full, read-only or unreadable database is not a bug of Aether but a
state of the machine the user must act on, so every command reports it the same way: one
line on stderr naming the file and the problem, and :data:`EXIT_STORE_FAULT`.
"""

from __future__ import annotations

import errno
import sqlite3

from aether.runtime.engine import HistoryDecodeError
from aether.store.base import StoreError

EXIT_STORE_FAULT = 3

# What each kind of fault asks the user to do, by SQLite's primary result code.
_ADVICE = {
    "SQLITE_FULL": "the disk is full: free space and try again",
    "SQLITE_IOERR": "the file could not be written or read (a full disk, a file size limit or a failing disk)",
    "SQLITE_BUSY": "another process holds the database locked: try again later",
    "SQLITE_LOCKED": "another process holds the database locked: try again later",
    "SQLITE_READONLY": "the database is read-only: only reading commands work on it",
    "SQLITE_CORRUPT": "the database is damaged: restore it from a backup (`aether export` what can still be read)",
    "SQLITE_NOTADB": "the file is not an Aether database, or its header is damaged",
    "SQLITE_CANTOPEN": "the file cannot be opened: check the path and its permissions",
}
_DAMAGED = _ADVICE["SQLITE_CORRUPT"]

# OS errors that are the file system's state, not a bug.
_STORE_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EIO})


def is_store_fault(exc: BaseException) -> bool:
    """True for the exceptions a command reports with :func:`describe_store_fault`."""
    if isinstance(exc, StoreError | sqlite3.Error | HistoryDecodeError):
        return True
    return isinstance(exc, OSError) and exc.errno in _STORE_ERRNOS


def describe_store_fault(exc: BaseException) -> str:
    """One line: what failed (the message names the file or the event) and what to do."""
    message = str(exc) or type(exc).__name__
    advice = _advice(exc)
    return f"{message} ({advice})" if advice else message


def _advice(exc: BaseException) -> str | None:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, sqlite3.Error):
            # "SQLITE_IOERR_WRITE" -> "SQLITE_IOERR": the extended codes share their advice.
            name = getattr(cause, "sqlite_errorname", "") or ""
            for primary, advice in _ADVICE.items():
                if name == primary or name.startswith(primary + "_"):
                    return advice
            if "could not decode" in str(cause).lower():
                return _DAMAGED
        if isinstance(cause, HistoryDecodeError | UnicodeDecodeError):
            return _DAMAGED
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return _ADVICE["SQLITE_FULL"]
        if isinstance(cause, OSError) and cause.errno == errno.EROFS:
            return _ADVICE["SQLITE_READONLY"]
        cause = cause.__cause__
    return None
