"""The registry of event-log adapters that the store, conformance and projection suites run on.

An adapter here is a recipe, not a log: it opens the log (and the snapshot store that goes
with it) kept in a directory the test owns. :class:`EventLogFactory` turns one recipe into
fresh logs for one test and closes them all at teardown. Memory and SQLite are registered
here; an adapter that needs a server, such as PostgreSQL, joins every suite with one call
where the server is known (Aether's own ``tests/conftest.py``)::

    register_adapter(PostgresAdapter(server_url))

No pytest here: the fixtures that read this registry live in :mod:`aether.testing.fixtures`.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from aether.projections.snapshots import DEFAULT_KEEP, SnapshotStore
from aether.store.base import EventLog
from aether.store.memory import InMemoryEventLog
from aether.store.memory_snapshots import InMemorySnapshotStore
from aether.store.sqlite import SqliteEventLog
from aether.store.sqlite_snapshots import SqliteSnapshotStore
from aether.testing.postgres_databases import ScratchDatabases


class CommitClock:
    """The clock a log reads for ``recorded_at``: it says ``now`` until the test sets another."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class EventLogAdapter(ABC):
    """How to open one kind of event log, and its snapshot store, in a directory."""

    name: str
    # True when what a log holds outlives the log object: opening the same directory again
    # shows every committed event.
    durable: bool

    @abstractmethod
    def open_log(self, directory: Path, clock: CommitClock) -> EventLog:
        """The log kept in ``directory``: empty the first time; for a durable adapter, holding
        everything committed by earlier logs of the same directory."""

    @abstractmethod
    def open_snapshots(self, directory: Path, keep: int | None) -> SnapshotStore:
        """The snapshot store beside the log of ``directory``, keeping ``keep`` per stream."""

    def views_path(self, directory: Path) -> Path:
        """The SQLite file the projector writes the read models of ``directory``'s log to."""
        return directory / "views.db"

    def discard(self, directory: Path) -> None:
        """Remove what the logs of ``directory`` keep outside it (a server's database, say);
        the factory calls it once their logs are closed. Nothing, for logs kept in files."""
        return


class MemoryAdapter(EventLogAdapter):
    name = "memory"
    durable = False

    def open_log(self, directory: Path, clock: CommitClock) -> EventLog:
        return InMemoryEventLog(clock=clock)

    def open_snapshots(self, directory: Path, keep: int | None) -> SnapshotStore:
        return InMemorySnapshotStore(keep=keep)


class SqliteAdapter(EventLogAdapter):
    """One file holds the log, its snapshots and its read models, as ``aether`` lays it out."""

    name = "sqlite"
    durable = True

    def open_log(self, directory: Path, clock: CommitClock) -> EventLog:
        return SqliteEventLog(self.views_path(directory), clock=clock)

    def open_snapshots(self, directory: Path, keep: int | None) -> SnapshotStore:
        return SqliteSnapshotStore(self.views_path(directory), keep=keep)

    def views_path(self, directory: Path) -> Path:
        return directory / "aether.db"


class PostgresAdapter(EventLogAdapter):
    """One PostgreSQL database per directory, on the server ``server_url()`` names.

    The database is named after a hash of the directory's path and made the first time the
    directory is opened, so opening the same directory again shows the same events.
    ``server_url`` is called only then: a suite that never opens a PostgreSQL log never
    needs a server. The URL's user must be allowed to create databases. A discarded
    directory's database is emptied and recycled (:mod:`aether.testing.postgres_databases`);
    :meth:`discard_all` drops them all. Snapshots and read models stay in SQLite files in
    the directory.
    """

    name = "postgres"
    durable = True

    def __init__(self, server_url: Callable[[], str]) -> None:
        self._databases = ScratchDatabases(server_url)

    def open_log(self, directory: Path, clock: CommitClock) -> EventLog:
        from aether.store.postgres import PostgresEventLog

        return PostgresEventLog(self.database_url(directory), clock=clock)

    def open_snapshots(self, directory: Path, keep: int | None) -> SnapshotStore:
        return SqliteSnapshotStore(self.views_path(directory), keep=keep)

    def database_url(self, directory: Path) -> str:
        """The URL of ``directory``'s database, made if it does not exist yet."""
        return self._databases.url(database_name(directory))

    def discard(self, directory: Path) -> None:
        self._databases.give_back(database_name(directory))

    def discard_all(self) -> None:
        """Drop every database this adapter made."""
        self._databases.drop_all()


def database_name(directory: Path) -> str:
    """The PostgreSQL database of ``directory``: a name fixed by its absolute path."""
    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()
    return f"aether_{digest[:24]}"


ADAPTERS: dict[str, EventLogAdapter] = {}


def register_adapter(adapter: EventLogAdapter) -> EventLogAdapter:
    """Make every suite that takes ``event_log_factory`` run on ``adapter`` too."""
    if adapter.name in ADAPTERS:
        raise ValueError(f"an event-log adapter named {adapter.name!r} is registered already")
    ADAPTERS[adapter.name] = adapter
    return adapter


register_adapter(MemoryAdapter())
register_adapter(SqliteAdapter())


class EventLogFactory:
    """Fresh logs of one adapter for one test, each in its own directory under ``root``.

    Every log and snapshot store it opens shares :attr:`clock` and is closed by
    :meth:`close_all`.
    """

    def __init__(self, adapter: EventLogAdapter, root: Path) -> None:
        self.adapter = adapter
        self.clock = CommitClock()
        self._root = root
        self._directories: dict[int, Path] = {}  # id(log) -> its directory
        self._logs: list[EventLog] = []  # every log opened, which also keeps their ids unique
        self._snapshot_stores: list[SnapshotStore] = []

    @property
    def durable(self) -> bool:
        return self.adapter.durable

    def new(self) -> EventLog:
        """An empty log in a directory of its own."""
        directory = self._root / f"{self.adapter.name}-{len(self._logs)}"
        directory.mkdir(parents=True)
        return self._open(directory)

    def reopen(self, log: EventLog) -> EventLog:
        """Close ``log`` and open its directory again (durable adapters only)."""
        if not self.durable:
            raise ValueError(f"the {self.adapter.name} adapter keeps nothing once a log is closed")
        log.close()
        return self._open(self.directory_of(log))

    def directory_of(self, log: EventLog) -> Path:
        return self._directories[id(log)]

    def views_path(self, log: EventLog) -> Path:
        """Where the projector writes ``log``'s read models."""
        return self.adapter.views_path(self.directory_of(log))

    def snapshots(self, log: EventLog | None = None, *, keep: int | None = DEFAULT_KEEP) -> SnapshotStore:
        """The snapshot store beside ``log``, or beside a fresh log when ``log`` is None."""
        directory = self.directory_of(log if log is not None else self.new())
        store = self.adapter.open_snapshots(directory, keep)
        self._snapshot_stores.append(store)
        return store

    def close_all(self) -> None:
        for log in self._logs:
            log.close()
        for store in self._snapshot_stores:
            # SnapshotStore has no close(): only stores that hold a connection need one.
            close = getattr(store, "close", None)
            if close is not None:
                close()
        for directory in sorted(set(self._directories.values())):
            self.adapter.discard(directory)

    def _open(self, directory: Path) -> EventLog:
        log = self.adapter.open_log(directory, self.clock)
        self._logs.append(log)
        self._directories[id(log)] = directory
        return log
