"""Assembling an engine: on the embedded default, one SQLite file holds the event log, the
read models and the snapshots; on PostgreSQL, one database holds them for every engine and
worker that shares it."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from aether.projections.snapshots import Snapshotter
from aether.runtime.engine import Engine
from aether.runtime.queue_broker import NotifiedWaker, Waker
from aether.store.base import StoreError
from aether.store.projector import Projector
from aether.store.sql_database import PostgresDatabase
from aether.store.sql_snapshots import SqlSnapshotStore
from aether.store.sqlite import SqliteEventLog
from aether.store.sqlite_snapshots import SqliteSnapshotStore
from aether.store.view_history_reader import ViewHistoryReader

DEFAULT_SNAPSHOT_EVERY = 1000
# Older snapshots are thinned to one per this many events (time travel's milestones).
DEFAULT_MILESTONE_EVERY = 10_000
# A large run is snapshotted at most every 2 events per node: a snapshot costs time in
# proportion to the run's size, and the projector shares a thread with the engine loop.
SNAPSHOT_EVENTS_PER_NODE = 2


def sqlite_engine(
    path: str | os.PathLike[str],
    *,
    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
    synchronous: str = "NORMAL",
    read_only: bool = False,
    queue: bool = False,
    **engine_options: Any,
) -> Engine:
    """An engine whose log, read models (runs, tasks, phase history) and snapshots live in
    ``path``. The projector keeps the read models and a snapshot every ``snapshot_every``
    events of each run (the two newest, and one per 10,000 events before them for time
    travel); loading a run is the nearest snapshot plus the tail. Time travel reads the
    projector's view history (``aether.projections.view_history``).

    ``read_only``: for reading a database this process may not write. Nothing is migrated,
    caught up or snapshotted, the engine drives no run and has no workers, and every write
    raises ``StoreError``; reads the read models cannot answer fold the log.

    ``queue``: tasks go to workers through the file's task queue, so ``aether worker``
    processes on this machine take them too; otherwise to the engine's own workers,
    in memory, which is faster."""
    if read_only:
        return _read_only_engine(path, **engine_options)
    log = SqliteEventLog(path, synchronous=synchronous)
    snapshots = SqliteSnapshotStore(path, keep_every=DEFAULT_MILESTONE_EVERY)
    snapshotter = Snapshotter(every=snapshot_every, per_node=SNAPSHOT_EVENTS_PER_NODE)
    projector = Projector(log, path, snapshots=snapshots, snapshotter=snapshotter)
    if queue:
        engine_options["task_queue"] = log.task_queue
    return Engine(log, snapshots=snapshots, projector=projector, view_history=ViewHistoryReader(path), **engine_options)


def _read_only_engine(path: str | os.PathLike[str], **engine_options: Any) -> Engine:
    engine_options.update(drives="none", workers=0)
    log = SqliteEventLog(path, read_only=True)
    try:
        snapshots = SqliteSnapshotStore(path, keep_every=DEFAULT_MILESTONE_EVERY, read_only=True)
        projector = Projector(log, path, snapshots=snapshots, read_only=True)
    except sqlite3.Error as exc:
        log.close()
        raise StoreError(f"cannot read the read models of {os.fspath(path)!r}: {exc}") from exc
    except BaseException:
        log.close()
        raise
    view_history = ViewHistoryReader(path, read_only=True)
    return Engine(log, snapshots=snapshots, projector=projector, view_history=view_history, **engine_options)


def postgres_engine(
    url: str, *, snapshot_every: int = DEFAULT_SNAPSHOT_EVERY, listen: bool = False, **engine_options: Any
) -> Engine:
    """An engine whose log, read models, view history and snapshots live in the PostgreSQL
    database at ``url``, which engines of other processes and machines may share: their
    projectors take turns on the same tables (``aether.store.projector``).

    ``listen``: its task queue wakes on PostgreSQL notifications (a connection of its own,
    for the life of the process) instead of polling: for long-lived engines that run
    workers or read their reports (``aether serve``, ``aether run``)."""
    from aether.store.postgres import PostgresEventLog

    log = PostgresEventLog(url)
    try:
        db = PostgresDatabase(url)
    except BaseException:
        log.close()
        raise
    snapshots = SqlSnapshotStore(db, keep_every=DEFAULT_MILESTONE_EVERY)
    snapshotter = Snapshotter(every=snapshot_every, per_node=SNAPSHOT_EVENTS_PER_NODE)
    projector = Projector(log, db, snapshots=snapshots, snapshotter=snapshotter)
    # Tasks always go through the database: `aether worker` processes anywhere take part.
    engine_options.setdefault("task_queue", log.task_queue)
    if listen:
        engine_options.setdefault("queue_wakers", _notified_wakers(url))
    return Engine(log, snapshots=snapshots, projector=projector, view_history=ViewHistoryReader(db), **engine_options)


def _notified_wakers(url: str) -> tuple[Waker, Waker]:
    from aether.store.postgres_notify import Listener
    from aether.store.postgres_task_queue import REPORTS_CHANNEL, TASKS_CHANNEL

    listener = Listener(url, [TASKS_CHANNEL, REPORTS_CHANNEL])
    return (
        NotifiedWaker(listener.add_callback, TASKS_CHANNEL, on_close=listener.close),
        NotifiedWaker(listener.add_callback, REPORTS_CHANNEL, on_close=listener.close),
    )
