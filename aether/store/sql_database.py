"""One way to speak SQL to the databases that hold read models and snapshots: an SQLite
file (or memory) and a PostgreSQL database.

The projector, the snapshot store and the readers of the read models (time travel, the
audit trail, ``aether list``, the damage check) write their SQL once, with ``?``
placeholders, against :class:`SqlDatabase`; :class:`SqliteDatabase` and
:class:`PostgresDatabase` differ only where the two databases do:

- placeholders (``?`` against psycopg's ``%s``);
- DDL types (``BLOB`` is ``BYTEA``, ``INTEGER`` is ``BIGINT``, ``REAL`` is ``DOUBLE
  PRECISION``), and text compared byte by byte in both (PostgreSQL's text columns are
  ``COLLATE "C"``, which is SQLite's ``BINARY``: the same order, the same ranges);
- ``INSERT OR REPLACE`` against ``INSERT ... ON CONFLICT DO UPDATE``;
- which tables exist (``sqlite_master`` against ``information_schema``);
- transactions: a write transaction is ``BEGIN IMMEDIATE`` on SQLite, which already keeps
  every other writer of the file out; on PostgreSQL it takes the transaction-scoped
  advisory lock its ``lock`` names, so that writers of the same thing (two projectors of
  one database) take turns. A ``snapshot`` is one consistent read (SQLite's read
  transaction, PostgreSQL's ``REPEATABLE READ``).

SQLite keeps one connection, shared by the threads of the process under one lock;
PostgreSQL keeps a pool, each statement or transaction on a connection of its own.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from attrs import frozen

from aether.projections.read_model_base import TableSpec
from aether.store.postgres_connect import is_postgres_url, pool, redacted
from aether.store.sqlite_read_only import connect_read_only

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

Row = tuple[Any, ...]
Params = Sequence[Any]

# Rows a PostgreSQL stream fetches from the server at a time.
STREAM_BATCH = 2000


@frozen
class Dialect:
    """How one database spells tables and upserts."""

    name: str
    types: tuple[tuple[str, str], ...] = ()  # (SQLite type, this database's type)
    without_rowid: bool = False  # SQLite's ``WITHOUT ROWID`` tables

    def column_type(self, declared: str) -> str:
        kind, _, rest = declared.partition(" ")
        mapped = dict(self.types).get(kind.upper(), kind)
        return f"{mapped} {rest}" if rest else mapped

    def create_table_sql(self, spec: TableSpec, *, if_not_exists: bool = False) -> list[str]:
        exists = "IF NOT EXISTS " if if_not_exists else ""
        cols = ", ".join(f"{name} {self.column_type(kind)}" for name, kind in spec.columns)
        suffix = " WITHOUT ROWID" if spec.without_rowid and self.without_rowid else ""
        out = [f"CREATE TABLE {exists}{spec.name} ({cols}, PRIMARY KEY ({', '.join(spec.primary_key)})){suffix}"]
        for index in spec.indexes:
            out.append(f"CREATE INDEX {exists}{spec.name}_{'_'.join(index)} ON {spec.name} ({', '.join(index)})")
        return out

    def upsert_sql(self, spec: TableSpec) -> str:
        """Insert a row, or replace the row with the same primary key."""
        columns = ", ".join(spec.column_names)
        marks = ", ".join("?" * len(spec.columns))
        if self.name == "sqlite":
            return f"INSERT OR REPLACE INTO {spec.name} ({columns}) VALUES ({marks})"
        others = [name for name in spec.column_names if name not in spec.primary_key]
        action = (
            "DO UPDATE SET " + ", ".join(f"{name} = EXCLUDED.{name}" for name in others) if others else "DO NOTHING"
        )
        return (
            f"INSERT INTO {spec.name} ({columns}) VALUES ({marks}) ON CONFLICT ({', '.join(spec.primary_key)}) {action}"
        )


SQLITE = Dialect("sqlite", without_rowid=True)
POSTGRES = Dialect(
    "postgres",
    (("INTEGER", "BIGINT"), ("BLOB", "BYTEA"), ("REAL", "DOUBLE PRECISION"), ("TEXT", 'TEXT COLLATE "C"')),
)


class SqlSession(Protocol):
    """Statements, on their own or inside one transaction."""

    def execute(self, sql: str, params: Params = ()) -> None: ...

    def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...


class SqlDatabase(SqlSession, Protocol):
    dialect: Dialect
    read_only: bool

    def transaction(self, *, lock: str | None = None) -> AbstractContextManager[SqlSession]:
        """A write transaction, committed when the block ends, rolled back if it raises.
        ``lock`` names what the writers take turns on (see the module docstring)."""
        ...

    def snapshot(self) -> AbstractContextManager[SqlSession]:
        """Reads that all see the database as of one moment."""
        ...

    def stream(self, sql: str, params: Params = ()) -> Iterator[Row]:
        """The rows of a query, a batch at a time: memory does not grow with the result."""
        ...

    def table_names(self) -> set[str]: ...

    def describe(self) -> str:
        """Where the database is, for messages (never a password)."""
        ...

    def close(self) -> None: ...


# --- SQLite --------------------------------------------------------------------------------------


class SqliteDatabase:
    """An SQLite connection in autocommit mode (transactions are explicit), shared by the
    threads of the process: one statement or transaction at a time."""

    dialect = SQLITE

    def __init__(self, conn: sqlite3.Connection, *, where: str = ":memory:", read_only: bool = False) -> None:
        self.conn = conn
        self.where = where
        self.read_only = read_only
        self._lock = threading.RLock()

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        busy_timeout_ms: int = 10_000,
        read_only: bool = False,
        wal: bool = True,
    ) -> SqliteDatabase:
        """The file at ``path``. Written: in WAL mode with ``synchronous = NORMAL`` (``wal``),
        as suits data rebuilt from the log. Read-only: nothing about the file changes."""
        where = os.fspath(path)
        if read_only:
            return cls(connect_read_only(path, busy_timeout_ms=busy_timeout_ms), where=where, read_only=True)
        conn = sqlite3.connect(where, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            if wal:
                conn.execute("PRAGMA journal_mode = WAL")
                # Derived data, rebuildable from the log: a commit need not survive power loss.
                conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        return cls(conn, where=where)

    @classmethod
    def in_memory(cls) -> SqliteDatabase:
        return cls(sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False))

    def execute(self, sql: str, params: Params = ()) -> None:
        with self._lock:
            self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        with self._lock:
            self.conn.executemany(sql, rows)

    def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        with self._lock:
            row: Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def stream(self, sql: str, params: Params = ()) -> Iterator[Row]:
        with self._lock:
            cursor = self.conn.execute(sql, params)
        try:
            yield from cursor
        finally:
            cursor.close()

    @contextlib.contextmanager
    def transaction(self, *, lock: str | None = None) -> Iterator[SqlSession]:
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[SqlSession]:
        with self._lock:
            conn = self.conn
            if conn.in_transaction:  # already inside one (a caller's transaction)
                yield self
                return
            conn.execute("BEGIN")
            try:
                yield self
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    def table_names(self) -> set[str]:
        return {str(row[0]) for row in self.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def describe(self) -> str:
        return self.where

    def close(self) -> None:
        with self._lock:
            self.conn.close()


# --- PostgreSQL ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _postgres_sql(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled); Aether's SQL has
    no ``?`` or ``%`` inside string literals."""
    return sql.replace("%", "%%").replace("?", "%s")


class _PostgresSession:
    """The statements of one transaction, on the connection that holds it."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Params = ()) -> None:
        self.conn.execute(_postgres_sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(_postgres_sql(sql), rows)

    def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self.conn.execute(_postgres_sql(sql), params).fetchone()
        return row

    def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return self.conn.execute(_postgres_sql(sql), params).fetchall()


class PostgresDatabase:
    """A pool of connections to the PostgreSQL database at ``url`` (autocommit: every
    transaction is explicit)."""

    dialect = POSTGRES
    read_only = False

    def __init__(self, url: str, *, max_connections: int = 8) -> None:
        self.url = url
        self._pool: psycopg_pool.ConnectionPool = pool(url, min_size=1, max_size=max_connections)

    def execute(self, sql: str, params: Params = ()) -> None:
        with self._pool.connection() as conn:
            _PostgresSession(conn).execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        with self._pool.connection() as conn:
            _PostgresSession(conn).executemany(sql, rows)

    def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        with self._pool.connection() as conn:
            return _PostgresSession(conn).fetchone(sql, params)

    def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        with self._pool.connection() as conn:
            return _PostgresSession(conn).fetchall(sql, params)

    def stream(self, sql: str, params: Params = ()) -> Iterator[Row]:
        # A server-side cursor lives in a transaction: the connection is this stream's
        # until the rows run out or the caller closes it.
        with self._pool.connection() as conn, conn.transaction(), conn.cursor(name="aether_stream") as cursor:
            cursor.itersize = STREAM_BATCH
            cursor.execute(_postgres_sql(sql), params)
            yield from cursor

    @contextlib.contextmanager
    def transaction(self, *, lock: str | None = None) -> Iterator[SqlSession]:
        with self._pool.connection() as conn, conn.transaction():
            if lock is not None:
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock,))
            yield _PostgresSession(conn)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[SqlSession]:
        with self._pool.connection() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield _PostgresSession(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def table_names(self) -> set[str]:
        rows = self.fetchall("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
        return {str(row[0]) for row in rows}

    def describe(self) -> str:
        return redacted(self.url)

    def close(self) -> None:
        self._pool.close()


def open_database(
    target: str | os.PathLike[str] | SqlDatabase, *, busy_timeout_ms: int = 10_000, read_only: bool = False
) -> tuple[SqlDatabase, bool]:
    """The database ``target`` names (a PostgreSQL URL or an SQLite path), or ``target``
    itself when it is one already; and whether the caller opened it (and so closes it)."""
    if isinstance(target, SqliteDatabase | PostgresDatabase):
        return target, False
    if is_postgres_url(target):
        assert isinstance(target, str)
        return PostgresDatabase(target), True
    assert isinstance(target, str | os.PathLike)
    return SqliteDatabase.open(target, busy_timeout_ms=busy_timeout_ms, read_only=read_only), True
