"""Layer 8: the ``EventLog`` interface and its adapters (docs/architecture.md, SPEC §15).

:func:`open_log` picks an adapter from a target string, so configuration can name a log
without importing an adapter class.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aether.model.lazy_exports import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from aether.store.base import (
        ANY_VERSION,
        NO_STREAM,
        AppendRequest,
        ConcurrencyConflict,
        EventLog,
        PendingEvent,
        StoredEvent,
        StoreError,
    )
    from aether.store.memory import InMemoryEventLog
    from aether.store.sqlite import SqliteEventLog

# The adapters are imported on first use: a module that needs the interface alone
# (``aether.store.base``) does not load SQLite's (sqlite-utils and what it loads).
_HOMES = {
    "ANY_VERSION": "base",
    "NO_STREAM": "base",
    "AppendRequest": "base",
    "ConcurrencyConflict": "base",
    "EventLog": "base",
    "PendingEvent": "base",
    "StoredEvent": "base",
    "StoreError": "base",
    "InMemoryEventLog": "memory",
    "SqliteEventLog": "sqlite",
}


__getattr__, __dir__ = _lazy_exports(__name__, _HOMES)


_MEMORY_TARGETS = (":memory:", "memory:", "memory://")
_SQLITE_SCHEME = "sqlite:///"


def open_log(
    target: str | os.PathLike[str],
    *,
    synchronous: str = "NORMAL",
    busy_timeout_ms: int = 10_000,
    clock: Callable[[], float] = time.time,
) -> EventLog:
    """Open the event log ``target`` names.

    - ``":memory:"``, ``"memory:"`` or ``"memory://"``: a new :class:`InMemoryEventLog`.
    - ``"sqlite:///<path>"``: a :class:`SqliteEventLog` on ``<path>``, SQLAlchemy style
      (``sqlite:///runs.db`` is relative, ``sqlite:////var/aether/runs.db`` absolute).
    - any other string or path without a ``scheme://``: a :class:`SqliteEventLog` on
      that file.

    - ``"postgresql://..."`` (or ``postgres://``): a :class:`~aether.store.postgres.PostgresEventLog`.

    ``synchronous`` and ``busy_timeout_ms`` apply to SQLite only. Another scheme raises
    :class:`StoreError`.
    """
    from aether.store.base import StoreError
    from aether.store.memory import InMemoryEventLog
    from aether.store.postgres_connect import is_postgres_url
    from aether.store.sqlite import SqliteEventLog

    if isinstance(target, os.PathLike):
        return SqliteEventLog(target, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms, clock=clock)
    if target in _MEMORY_TARGETS:
        return InMemoryEventLog(clock=clock)
    if target.startswith(_SQLITE_SCHEME):
        path = target[len(_SQLITE_SCHEME) :]
        if not path:
            raise StoreError(f"no file in {target!r}: write sqlite:///<path>")
    elif is_postgres_url(target):
        from aether.store.postgres import PostgresEventLog

        return PostgresEventLog(target, clock=clock)
    elif "://" in target:
        scheme = target.split("://", 1)[0]
        raise StoreError(
            f"no event log adapter for {scheme!r} in {target!r}: use postgresql://..., sqlite:///<path> or :memory:"
        )
    else:
        path = target
    if not path:
        raise StoreError("an empty string names no event log")
    return SqliteEventLog(path, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms, clock=clock)


__all__ = [
    "ANY_VERSION",
    "NO_STREAM",
    "AppendRequest",
    "ConcurrencyConflict",
    "EventLog",
    "InMemoryEventLog",
    "PendingEvent",
    "SqliteEventLog",
    "StoreError",
    "StoredEvent",
    "open_log",
]
