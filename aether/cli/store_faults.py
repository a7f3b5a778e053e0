"""Faults of the database file named in one line instead of a traceback.

A damaged, locked, full, read-only or unreadable database is not a bug of Aether but a
state of the machine the user must act on, so every command reports it the same way: one
line on stderr naming the file and the problem, and :data:`EXIT_STORE_FAULT`.
"""

from __future__ import annotations

import errno
import sqlite3
import sys

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


def _loaded_class(module: str, name: str) -> type[BaseException] | None:
    """The exception class ``name`` of ``module`` if the module has been imported, else None.

    Every command's errors pass through here, including those of commands that never load
    the store or the engine (``--help``): an exception of a class that was never imported
    cannot have been raised, and importing it just to say so would cost a second."""
    loaded = sys.modules.get(module)
    found = getattr(loaded, name, None)
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


def _is_history_decode_error(exc: BaseException) -> bool:
    decode_error = _loaded_class("aether.runtime.engine", "HistoryDecodeError")
    return decode_error is not None and isinstance(exc, decode_error)


def is_store_fault(exc: BaseException) -> bool:
    """True for the exceptions a command reports with :func:`describe_store_fault`."""
    store_error = _loaded_class("aether.store.base", "StoreError")
    if isinstance(exc, sqlite3.Error) or (store_error is not None and isinstance(exc, store_error)):
        return True
    if _is_history_decode_error(exc):
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
        if isinstance(cause, UnicodeDecodeError) or _is_history_decode_error(cause):
            return _DAMAGED
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return _ADVICE["SQLITE_FULL"]
        if isinstance(cause, OSError) and cause.errno == errno.EROFS:
            return _ADVICE["SQLITE_READONLY"]
        cause = cause.__cause__
    return None
