"""The registry of event-log adapters that the store, conformance and projection suites run on.

An adapter here is a recipe, not a log: it opens the log (and the snapshot store that goes
with it) kept in a directory the test owns. :class:`EventLogFactory` turns one recipe into
fresh logs for one test and closes them all at teardown. A new adapter (PostgreSQL, say)
joins every suite with one call::

    register_adapter(PostgresAdapter())

No pytest here: the fixtures that read this registry live in :mod:`aether.testing.fixtures`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from aether.projections.snapshots import DEFAULT_KEEP, SnapshotStore
from aether.store.base import EventLog
from aether.store.memory import InMemoryEventLog
from aether.store.memory_snapshots import InMemorySnapshotStore
from aether.store.sqlite import SqliteEventLog
from aether.store.sqlite_snapshots import SqliteSnapshotStore


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

    def _open(self, directory: Path) -> EventLog:
        log = self.adapter.open_log(directory, self.clock)
        self._logs.append(log)
        self._directories[id(log)] = directory
        return log
