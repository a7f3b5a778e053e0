"""Connecting to PostgreSQL: recognising a URL, opening connections and pools, and turning
the driver's errors into :class:`StoreError` messages that say what failed and where.

psycopg is an optional dependency (``pip install 'aether[postgres]'``); it is imported
only when a PostgreSQL URL is used, so the embedded SQLite default never pays for it.
"""

from __future__ import annotations

import atexit
import contextlib
import re
import weakref
from typing import TYPE_CHECKING, Any

from aether.store.base import StoreError

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
INSTALL_HINT = "install PostgreSQL support with: pip install 'aether[postgres]'"
# Seconds to wait for a server before giving up on a connection.
CONNECT_TIMEOUT_S = 10

_PASSWORD = re.compile(r"(://[^:/@]+:)[^@/]*@")


def is_postgres_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def redacted(url: str) -> str:
    """``url`` without its password, for messages and ``repr``."""
    return _PASSWORD.sub(r"\1***@", url)


def driver() -> Any:
    """The psycopg module, or a :class:`StoreError` saying how to install it."""
    try:
        import psycopg
    except ImportError as exc:
        raise StoreError(f"a PostgreSQL URL needs the psycopg driver: {INSTALL_HINT}") from exc
    return psycopg


def connect(url: str, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    """One connection to ``url``. Autocommit by default: every transaction is opened
    explicitly (``with conn.transaction():``), as the SQLite adapters do."""
    psycopg_module = driver()
    try:
        conn: psycopg.Connection[Any] = psycopg_module.connect(
            url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S
        )
    except psycopg_module.Error as exc:
        raise StoreError(f"cannot connect to {redacted(url)}: {_first_line(exc)}") from exc
    return conn


def pool(url: str, *, min_size: int = 1, max_size: int = 8, name: str = "aether") -> psycopg_pool.ConnectionPool:
    """A connection pool on ``url``, opened and checked: a server that cannot be reached
    fails here, with the URL (without its password) in the message."""
    driver()
    try:
        import psycopg_pool
    except ImportError as exc:
        raise StoreError(f"a PostgreSQL URL needs psycopg-pool: {INSTALL_HINT}") from exc
    connections = psycopg_pool.ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
        name=name,
        open=False,
    )
    try:
        connections.open(wait=True, timeout=CONNECT_TIMEOUT_S)
    except Exception as exc:
        connections.close()
        raise StoreError(f"cannot connect to {redacted(url)}: {_first_line(exc)}") from exc
    _open_pools.add(connections)
    return connections


# Pools a process never closed are closed when it exits: left to the garbage collector at
# interpreter shutdown, a pool's finaliser can wait forever for a lock one of its own
# (already frozen) worker threads holds, and the process never exits.
_open_pools: weakref.WeakSet[psycopg_pool.ConnectionPool] = weakref.WeakSet()


@atexit.register
def _close_open_pools() -> None:
    for connections in list(_open_pools):
        with contextlib.suppress(Exception):
            connections.close(timeout=1.0)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


__all__ = ["INSTALL_HINT", "POSTGRES_SCHEMES", "connect", "driver", "is_postgres_url", "pool", "redacted"]
