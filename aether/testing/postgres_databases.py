"""Scratch PostgreSQL databases for test logs: one per name, created on demand, recycled.

Creating a database copies a template (several megabytes, and a checkpoint): on a busy
machine that takes the better part of a second, more than most tests. A database given
back is therefore emptied (every schema dropped, ``public`` created again, as in a new
database) and kept as a spare; the next name asked for is a spare renamed, which costs a
few catalog updates. Every database, spare or not, is dropped by :meth:`drop_all`.

No pytest here: the adapter registry (:mod:`aether.testing.adapters`) uses it.
"""

from __future__ import annotations

import contextlib
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

_USER_SCHEMAS = "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"


class ScratchDatabases:
    """Databases on the server ``server_url()`` names (called only when a database is first
    needed); its user must be allowed to create databases. Safe for several threads."""

    def __init__(self, server_url: Callable[[], str]) -> None:
        self._server_url = server_url
        self._lock = threading.Lock()
        self._in_use: set[str] = set()
        self._spares: list[str] = []
        self._spare_count = 0  # spares are named by this counter, unique within the process

    def url(self, name: str) -> str:
        """The URL of database ``name``, made (empty) if this object does not hold it yet."""
        server = self._server_url()
        with self._lock:
            if name not in self._in_use:
                self._provide(server, name)
                self._in_use.add(name)
        return _with_database(server, name)

    def give_back(self, name: str) -> None:
        """Empty database ``name``, closing whatever connections it still has, and keep it
        as a spare. Nothing if this object does not hold it."""
        with self._lock:
            if name not in self._in_use:
                return
            self._in_use.discard(name)
            server = self._server_url()
            spare = f"{name}_spare_{self._spare_count}"[:63]
            self._spare_count += 1
            with _connect(server) as admin:
                _close_connections(admin, name)
            with _connect(_with_database(server, name)) as conn:
                for (schema,) in conn.execute(_USER_SCHEMAS).fetchall():
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                conn.execute("CREATE SCHEMA public")
            with _connect(server) as admin:
                admin.execute(f'ALTER DATABASE "{name}" RENAME TO "{spare}"')
            self._spares.append(spare)

    def drop_all(self) -> None:
        """Drop every database this object made, in use or spare."""
        with self._lock:
            names = sorted(self._in_use) + self._spares
            if not names:
                return
            with _connect(self._server_url()) as admin:
                for name in names:
                    # FORCE: a connection a test left open must not keep the database alive.
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._in_use.clear()
            self._spares.clear()

    def _provide(self, server: str, name: str) -> None:
        import psycopg
        from psycopg import errors

        with _connect(server) as admin:
            if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None:
                return  # made by another process, or by an earlier object of this one
            while self._spares:
                spare = self._spares.pop()
                try:
                    admin.execute(f'ALTER DATABASE "{spare}" RENAME TO "{name}"')
                    return
                except psycopg.Error:
                    # Something connected to the spare meanwhile: it is no use as a fresh one.
                    admin.execute(f'DROP DATABASE IF EXISTS "{spare}" WITH (FORCE)')
            # DuplicateDatabase: another process made the same name at the same moment.
            with contextlib.suppress(errors.DuplicateDatabase):
                admin.execute(f'CREATE DATABASE "{name}"')


@contextlib.contextmanager
def _connect(url: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


def _close_connections(admin: Any, name: str) -> None:
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )


def _with_database(server_url: str, name: str) -> str:
    return urllib.parse.urlsplit(server_url)._replace(path=f"/{name}").geturl()


__all__ = ["ScratchDatabases"]
