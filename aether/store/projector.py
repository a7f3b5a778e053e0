"""The projector: keeps the read-model tables in step with the log.

It reads the log in position order (``read_all``), folds each run event with the real
reducer and hands the change to every read model. Each batch of events, its rows and the
new position are committed in one transaction, so the tables always reflect exactly the
events up to the stored position: a crash repeats a batch, it never skips or doubles one.

Run states are kept in a bounded LRU cache while catching up. A run that fell out of it
is reloaded from the newest snapshot plus the tail of its stream, so memory does not grow
with the number of runs; with a ``Snapshotter`` the projector also writes those snapshots
(after the batch commits: a snapshot store on the same SQLite file must not wait for the
projector's own write lock).

The tables live in an SQLite file or a PostgreSQL database (``aether.store.sql_database``).
Several projectors may share one database (engines of several processes or machines):
each batch is written under the projector's lock (SQLite's ``BEGIN IMMEDIATE``, a
PostgreSQL advisory lock), after checking that the stored position is still the one the
batch starts from. A projector that another one overtook drops its batch and goes on from
the stored position, so no event is ever applied twice.

The stored position row also records a fingerprint of the tables' layout; a projector
whose read models changed since the tables were built rebuilds them from position 0.

Read-only (``read_only=True``, for a database this process may not write): the tables
are used as they are, never caught up or rebuilt. ``catch_up`` raises
:class:`ProjectionError` when they lag the log or were built for other read models, so
the query service folds the log instead (``aether.runtime.queries``).
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Sequence

import orjson

from aether.events.catalog import WorkflowSubmitted
from aether.events.codec import decode
from aether.events.streams import CRON_PREFIX, PRUNED_PREFIX, RUN_PREFIX
from aether.projections.read_model_base import ReadModel, RowSink, RunChange, TableSpec
from aether.projections.read_models import all_tables, default_read_models
from aether.projections.snapshots import SnapshotStore, Snapshotter, TemplatesSnapshot
from aether.projections.transitions import RUN, changed_node_ids, phase_transitions
from aether.reducers.run import apply
from aether.reducers.state import TERMINAL_PHASES, RunState
from aether.store.base import EventLog, StoredEvent, StoreError
from aether.store.loading import load_run_state
from aether.store.sql_database import Dialect, SqlDatabase, SqliteDatabase, SqlSession, open_database

POSITION_TABLE = "projector_position"
DEFAULT_BATCH = 1000
DEFAULT_CACHE = 1024

POSITION = TableSpec(
    POSITION_TABLE,
    (
        ("name", "TEXT NOT NULL"),
        ("position", "INTEGER NOT NULL"),
        ("schema", "TEXT NOT NULL"),  # the fingerprint of the tables' layout
        ("tables", "TEXT NOT NULL"),  # JSON: the tables it made, dropped when they are rebuilt
    ),
    ("name",),
)
_READ_POSITION = f"SELECT position, schema FROM {POSITION_TABLE} WHERE name = ?"


class ProjectionError(Exception):
    """An event of the log could not be projected (the history or the reducer is wrong)."""


class _RunEntry:
    __slots__ = ("state", "templates", "terminal", "version")

    def __init__(self, state: RunState, version: int, terminal: int, templates: TemplatesSnapshot | None) -> None:
        self.state = state
        self.version = version
        self.terminal = terminal
        self.templates = templates


def _schema_fingerprint(tables: Sequence[TableSpec], dialect: Dialect) -> str:
    text = "\n".join(sql for spec in tables for sql in dialect.create_table_sql(spec))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _Overtaken(Exception):
    """Another projector of the same database stored a position this batch did not start from."""

    def __init__(self, stored: int) -> None:
        self.stored = stored


class Projector:
    """Materialises read models from ``log`` into the database ``db``.

    ``db`` is an SQLite path (the log's own file is the usual choice: the tables sit next
    to the log's), a PostgreSQL URL, or an open :class:`SqlDatabase`. Not thread-safe:
    one thread drives a projector; other projectors, in this process or others, may
    share its database.
    """

    def __init__(
        self,
        log: EventLog,
        db: str | os.PathLike[str] | SqlDatabase,
        *,
        read_models: Sequence[ReadModel] | None = None,
        name: str = "read-models",
        batch_size: int = DEFAULT_BATCH,
        cache_size: int = DEFAULT_CACHE,
        snapshots: SnapshotStore | None = None,
        snapshotter: Snapshotter | None = None,
        busy_timeout_ms: int = 10_000,
        read_only: bool = False,
    ) -> None:
        if batch_size < 1 or cache_size < 1:
            raise ValueError("batch_size and cache_size must be >= 1")
        self.log = log
        self.name = name
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.snapshots = snapshots
        self.snapshotter = snapshotter
        self.read_models: tuple[ReadModel, ...] = tuple(
            read_models if read_models is not None else default_read_models()
        )
        self.tables = all_tables(self.read_models)
        self.read_only = read_only
        # Why the tables cannot be read as they are (read-only only); None: they can.
        self._unusable: str | None = None
        self.db, self._owns_db = open_database(db, busy_timeout_ms=busy_timeout_ms, read_only=read_only)
        dialect = self.db.dialect
        self._schema = _schema_fingerprint(self.tables, dialect)
        self._upserts = {spec.name: dialect.upsert_sql(spec) for spec in self.tables}
        # Writers of this projector's tables take turns on it (a PostgreSQL advisory lock).
        self._lock_name = f"aether.projector:{name}"
        self._cache: OrderedDict[str, _RunEntry] = OrderedDict()
        self._position = 0
        self._open_position()

    # --- public API -------------------------------------------------------------------------

    @property
    def position(self) -> int:
        """The log position of the last event reflected in the tables."""
        return self._position

    def stored_position(self, session: SqlSession | None = None) -> int:
        """The position the tables reflect as stored, which another process's projector
        may have moved since this one last wrote it; read in ``session`` (a transaction
        of this projector's database) when given."""
        if self._unusable is not None:
            return 0
        row = (session or self.db).fetchone(_READ_POSITION, (self.name,))
        return int(row[0]) if row is not None else 0

    def behind(self) -> int:
        return self.log.last_position() - self._position

    def catch_up(self) -> int:
        """Project every event after the position, batch by batch; return how many.

        Stops at the log's last position as of the call, so a busy writer cannot keep it
        running forever.
        """
        target = self.log.last_position()
        if self.read_only:
            self._refuse_to_write(target)
            return 0
        done = 0
        while self._position < target:
            self._follow(self.stored_position())
            if self._position >= target:
                break
            events = self.log.read_all(self._position, self.batch_size)
            if not events:
                break
            try:
                self._project_batch(events)
            except _Overtaken as overtaken:
                self._follow(overtaken.stored)
                continue
            done += len(events)
        return done

    def rebuild(self) -> int:
        """Drop the tables, recreate them and project the whole log again."""
        if self.read_only:
            where = getattr(self.log, "path", "the log")
            raise StoreError(f"cannot rebuild the read models of {where!r}: the database is open read-only")
        self._reset()
        return self.catch_up()

    def close(self) -> None:
        if self._owns_db:
            self.db.close()

    def __enter__(self) -> Projector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- position and schema ----------------------------------------------------------------

    def _refuse_to_write(self, target: int) -> None:
        stored = self.stored_position()
        if self._unusable is not None:
            raise ProjectionError(self._unusable)
        if stored < target:
            raise ProjectionError(
                f"the read models lag the log by {target - stored} event(s) and the database is open read-only"
            )
        self._position = stored

    def _follow(self, stored: int) -> None:
        """Go on from ``stored`` when another projector of the database moved the position
        (or a rebuild reset it): what this one remembers ran ahead of, or behind, the tables."""
        if stored != self._position:
            self._position = stored
            self._forget()

    def _open_position(self) -> None:
        if self.read_only:
            self._open_position_read_only()
            return
        if POSITION_TABLE in self.db.table_names():
            row = self.db.fetchone(_READ_POSITION, (self.name,))
            if row is not None and row[1] == self._schema:  # the usual case: nothing to write
                self._position = int(row[0])
                return
        # One transaction, under the projector's lock: projectors starting together on a
        # new database create its tables once.
        with self.db.transaction(lock=self._lock_name) as tx:
            for sql in self.db.dialect.create_table_sql(POSITION, if_not_exists=True):
                tx.execute(sql)
            row = tx.fetchone(_READ_POSITION, (self.name,))
            if row is None or row[1] != self._schema:
                self._recreate_tables(tx)
            else:
                self._position = int(row[0])

    def _reset(self) -> None:
        with self.db.transaction(lock=self._lock_name) as tx:
            self._recreate_tables(tx)

    def _recreate_tables(self, tx: SqlSession) -> None:
        row = tx.fetchone(f"SELECT tables FROM {POSITION_TABLE} WHERE name = ?", (self.name,))
        old_tables: list[str] = orjson.loads(row[0]) if row is not None else []
        names = [spec.name for spec in self.tables]
        for table in dict.fromkeys([*old_tables, *names]):
            tx.execute(f"DROP TABLE IF EXISTS {table}")
        for spec in self.tables:
            for sql in self.db.dialect.create_table_sql(spec):
                tx.execute(sql)
        tx.execute(self.db.dialect.upsert_sql(POSITION), (self.name, 0, self._schema, orjson.dumps(names).decode()))
        self._position = 0
        self._forget()

    def _open_position_read_only(self) -> None:
        row = self.db.fetchone(_READ_POSITION, (self.name,)) if POSITION_TABLE in self.db.table_names() else None
        if row is None:
            self._unusable = "the database holds no read models and is open read-only"
        elif row[1] != self._schema:
            self._unusable = (
                "the read models were built for another version of Aether and the database is open read-only"
            )
        else:
            self._position = int(row[0])

    # --- projecting -------------------------------------------------------------------------

    def _project_batch(self, events: list[StoredEvent]) -> None:
        sink = RowSink()
        due: list[tuple[str, int, RunState, TemplatesSnapshot | None]] = []
        try:
            for stored in events:
                if stored.stream.startswith(RUN_PREFIX):
                    self._project_run_event(stored, sink, due)
                elif stored.stream.startswith((CRON_PREFIX, PRUNED_PREFIX)):
                    self._project_cron_event(stored, sink)
            with self.db.transaction(lock=self._lock_name) as tx:
                position = self.stored_position(tx)
                if position != self._position:
                    raise _Overtaken(position)
                for spec in self.tables:
                    rows = sink.rows(spec.name)
                    if rows:
                        tx.executemany(self._upserts[spec.name], rows)
                tx.execute(f"UPDATE {POSITION_TABLE} SET position = ? WHERE name = ?", (events[-1].position, self.name))
        except BaseException:
            # The cached states (and what models remember) ran ahead of the tables.
            self._forget()
            raise
        self._position = events[-1].position
        if self.snapshots is not None:
            for stream, version, state, templates in due:
                self.snapshots.save(stream, version, state, templates_snapshot=templates)

    def _project_run_event(
        self,
        stored: StoredEvent,
        sink: RowSink,
        due: list[tuple[str, int, RunState, TemplatesSnapshot | None]],
    ) -> None:
        stream, version = stored.stream, stored.version
        entry = self._entry(stream, version - 1)
        before = entry.state if entry is not None else None
        try:
            event = decode(stored)
            after = apply(before, event)
        except Exception as exc:
            raise ProjectionError(f"{stream} version {version} ({stored.type}): {exc}") from exc
        changed = changed_node_ids(before, after, event)
        transitions = tuple(phase_transitions(before, after, event, changed))
        terminal = (entry.terminal if entry is not None else 0) + sum(
            1 for t in transitions if t.node_id != RUN and t.to_phase in TERMINAL_PHASES
        )
        templates = (
            event.templates_snapshot
            if isinstance(event, WorkflowSubmitted)
            else (entry.templates if entry is not None else None)
        )
        self._remember(stream, _RunEntry(after, version, terminal, templates))
        change = RunChange(after.run_id, version, event, before, after, transitions, terminal, tuple(changed))
        for model in self.read_models:
            model.on_run_change(change, sink)
        if self.snapshotter is not None and self.snapshotter.due(version - 1, version, after.node_count):
            due.append((stream, version, after, templates))

    def _project_cron_event(self, stored: StoredEvent, sink: RowSink) -> None:
        """Cron facts, and runs pruned by hand, are self-contained: no state to fold, one call
        per model that reads them."""
        readers = [model for model in self.read_models if hasattr(model, "on_cron_event")]
        if not readers:
            return
        try:
            event = decode(stored)
        except Exception as exc:
            raise ProjectionError(f"{stored.stream} version {stored.version} ({stored.type}): {exc}") from exc
        # A run a person deleted (a ``pruned:`` stream) was pruned by no cron: its cron is "".
        cron = stored.stream[len(CRON_PREFIX) :] if stored.stream.startswith(CRON_PREFIX) else ""
        for model in readers:
            model.on_cron_event(cron, stored.version, event, sink)

    def _forget(self) -> None:
        """Drop what runs ahead of the tables: cached states reload on demand, and a model
        that remembers between events (``reset``) starts over."""
        self._cache.clear()
        for model in self.read_models:
            reset = getattr(model, "reset", None)
            if reset is not None:
                reset()

    def _entry(self, stream: str, version: int) -> _RunEntry | None:
        """The cached state of ``stream`` after ``version`` events, reloading it if needed."""
        if version == 0:
            return None
        entry = self._cache.get(stream)
        if entry is not None and entry.version == version:
            self._cache.move_to_end(stream)
            return entry
        state, loaded = load_run_state(self.log, stream, self.snapshots, to_version=version)
        if state is None or loaded != version:
            raise ProjectionError(f"{stream}: cannot load version {version} (the stream has {loaded})")
        terminal = sum(1 for node in state.nodes.values() if node.terminal)
        entry = _RunEntry(state, version, terminal, None)
        self._remember(stream, entry)
        return entry

    def _remember(self, stream: str, entry: _RunEntry) -> None:
        self._cache[stream] = entry
        self._cache.move_to_end(stream)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)


def projected_in_memory(log: EventLog, snapshots: SnapshotStore | None = None) -> SqliteDatabase:
    """The default read models of the whole ``log``, folded into a private in-memory database:
    what the tables of a read-only database would hold if they could be caught up."""
    db = SqliteDatabase.in_memory()
    Projector(log, db, snapshots=snapshots).catch_up()
    return db
