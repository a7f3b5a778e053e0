"""A worker process: executors only, on any machine that reaches the database (``aether
worker``). It decides nothing; engines (``aether serve``) decide and dispatch.

It joins the database as a member of role ``worker`` and keeps its registration alive
from a keeper thread, takes and claims assignments from the task queue
(:class:`~aether.runtime.queue_broker.QueueBroker`), runs them on a
:class:`~aether.runtime.workers.WorkerPool`, and writes their starts and results back. An
attempt it gives up when stopping is reported lost, so the run's owner dispatches the
next attempt at once. If it is found expired (a pause longer than its lease), it is fenced:
it stops every task it runs and takes nothing more; the runs' owners record those attempts
as lost and run them again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Mapping
from datetime import UTC, datetime

from aether.events.codec import decode
from aether.events.streams import run_stream
from aether.events.times import datetime_to_ms
from aether.model.json_value import JSON
from aether.model.limits import DEFAULT_LIMITS, Limits
from aether.reducers.run import apply
from aether.runtime.executors.base import ExecutorPlugin
from aether.runtime.ownership import DEFAULT_LEASE_TTL, Ownership
from aether.runtime.queue_broker import QueueBroker, Waker
from aether.runtime.secrets import SecretProvider
from aether.runtime.workers import WorkerPool
from aether.scheduler.env import globals_layer
from aether.store.base import EventLog
from aether.store.coordination import Coordination
from aether.store.task_queue import TaskQueue

_log = logging.getLogger("aether.worker")

WORKER_ROLE = "worker"
# Runs whose workflow-level variables a worker remembers (they never change after submit).
GLOBALS_CACHE = 1024


def _now_ms() -> int:
    return datetime_to_ms(datetime.now(UTC))


class RunGlobals:
    """The workflow-level interpolation variables of a run (SPEC §4.7: variable sources,
    ``workflow.*``), read from its first event, which fixes them for the run's life."""

    def __init__(self, log: EventLog, limit: int = GLOBALS_CACHE) -> None:
        self._log = log
        self._limit = limit
        self._cache: OrderedDict[str, Mapping[str, JSON]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, run_id: str) -> Mapping[str, JSON]:
        with self._lock:
            found = self._cache.get(run_id)
            if found is not None:
                self._cache.move_to_end(run_id)
                return found
        layer: Mapping[str, JSON] = {}
        for stored in self._log.read(run_stream(run_id), 1, 1):
            layer = globals_layer(apply(None, decode(stored)))
        with self._lock:
            self._cache[run_id] = layer
            while len(self._cache) > self._limit:
                self._cache.popitem(last=False)
        return layer


class WorkerProcess:
    def __init__(
        self,
        log: EventLog,
        coordination: Coordination,
        task_queue: TaskQueue,
        executors: Mapping[str, ExecutorPlugin],
        *,
        concurrency: int = 4,
        executor_types: Collection[str] | None = None,
        secrets: SecretProvider | None = None,
        limits: Limits = DEFAULT_LIMITS,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        work_waker: Waker | None = None,
    ) -> None:
        self.ownership = Ownership(coordination, _now_ms, ttl=lease_ttl, role=WORKER_ROLE)
        self.broker = QueueBroker(
            task_queue, member=self._member, now_ms=_now_ms, work_waker=work_waker, report_releases=True
        )
        self.pool = WorkerPool(
            self.broker,
            executors,
            size=concurrency,
            secrets=secrets,
            vars_env_for=RunGlobals(log),
            executor_types=executor_types,
            claim=None,  # taking an assignment from the queue claims it
            limits=limits,
            worker_id_prefix=self.ownership.member_id,
            task_logs=getattr(log, "task_logs", None),
        )
        self.fenced = False
        self._stopping = threading.Event()
        self._keeper: threading.Thread | None = None

    @property
    def member_id(self) -> str:
        return self.ownership.member_id

    def start(self) -> None:
        self.ownership.join()
        self._keeper = threading.Thread(target=self._keep_membership, name="aether-worker-lease", daemon=True)
        self._keeper.start()
        self.pool.start()

    def stop(self, grace: float = 10.0, hurry: threading.Event | None = None) -> bool:
        """Take nothing more, let running tasks finish for up to ``grace`` seconds (or
        until ``hurry`` is set), then interrupt the rest (reported lost) and leave. True
        when every task finished."""
        self.pool.stop_claiming()
        give_up = time.monotonic() + grace
        while self.pool.running() and time.monotonic() < give_up and not self.fenced:
            if hurry is not None and hurry.is_set():
                break
            time.sleep(0.05)
        finished = not self.pool.running()
        if not finished:
            self.pool.interrupt()
        self.pool.stop(3.0)
        self.broker.close()
        self._stopping.set()
        if self._keeper is not None:
            self._keeper.join(2.0)
        if not self.fenced:
            try:
                self.ownership.leave()
            except Exception:  # its registration then expires by itself
                _log.exception("leaving the membership failed")
        return finished

    def running(self) -> int:
        return len(self.pool.running())

    def _member(self) -> str | None:
        return self.ownership.member_id if self.ownership.joined and not self.fenced else None

    def _keep_membership(self) -> None:
        interval = self.ownership.ttl_ms / 3000
        while not self._stopping.wait(interval):
            try:
                if not self.ownership.renew():
                    self._on_fenced()
                    return
            except Exception:
                _log.exception("renewing the worker's registration failed; trying again")

    def _on_fenced(self) -> None:
        self.fenced = True
        self.ownership.removed()
        _log.error("this worker's registration expired and was removed; it stopped its tasks")
        self.pool.interrupt()
        self.broker.close()


__all__ = ["WORKER_ROLE", "RunGlobals", "WorkerProcess"]
