"""The task broker (SPEC §15 ``TaskBroker``) and its in-process implementation.

``LocalBroker`` sits between the engine, which dispatches and cancels and drains reports,
and worker threads, which fetch and report. Under run leases a worker's start is also its
claim: it waits while the engine records both (``claim_start``), or, when the engine finds
it waiting for work, it is handed an assignment whose claim and start the dispatching round
recorded (``reserve_waiting_worker``, ``hand_over``). It keeps one heap per executor type so that a
worker fetching only some types finds its best candidate without scanning the others.
Cancelled or fetched entries are left in the heaps and skipped when they surface.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Collection, Sequence
from typing import Literal, Protocol

from aether.events.assignment import TaskAssignment, TaskResultReport, TaskStartReport
from aether.runtime.start_claims import StartClaim

Report = TaskStartReport | TaskResultReport | StartClaim
Order = Literal["priority", "fifo", "lifo"]
_SortKey = tuple[int, ...]


class TaskBroker(Protocol):
    def dispatch(self, assignment: TaskAssignment) -> None: ...

    def cancel(self, assignment_id: str) -> None: ...

    def flush(self) -> None:
        """Make what was dispatched and cancelled so far visible to workers."""
        ...

    def take_reports(self, max_items: int = 1000, timeout: float | None = 0) -> Sequence[object]:
        """Reports from workers, oldest first (starts, results, losses)."""
        ...

    def acknowledge_reports(self) -> None:
        """The reports taken so far are recorded in the log."""
        ...

    def flush_reports(self, timeout: float) -> bool:
        """Wait until the reports workers handed over are where the engine reads them."""
        ...

    def run_finished(self, run_id: str) -> None:
        """A run ended: what the broker keeps for it may go."""
        ...

    def pending_count(self) -> int: ...

    @property
    def closed(self) -> bool: ...

    def fetch(
        self, worker_id: str, executor_types: Collection[str] | None, timeout: float | None
    ) -> TaskAssignment | None: ...

    def report_started(self, started: TaskStartReport) -> None: ...

    def report_result(self, result: TaskResultReport) -> None: ...

    def release(self, assignment_id: str) -> None: ...

    def is_cancelled(self, assignment_id: str) -> bool: ...

    def close(self) -> None: ...


class LocalBroker:
    """An in-process broker. Thread-safe; every method may be called from any thread."""

    def __init__(self, order: Order = "priority") -> None:
        if order not in ("priority", "fifo", "lifo"):
            raise ValueError(f"unknown broker order: {order!r}")
        self._order = order
        self._lock = threading.Lock()
        self._work_ready = threading.Condition(self._lock)
        self._reports_ready = threading.Condition(self._lock)
        self._heaps: dict[str, list[tuple[_SortKey, str]]] = {}
        self._pending: dict[str, TaskAssignment] = {}  # dispatched, not fetched, not cancelled
        self._known: set[str] = set()  # every id dispatched and not yet reported finished
        self._cancelled: set[str] = set()
        self._reports: deque[Report] = deque()
        self._seq = 0
        self._closed = False
        # Workers waiting in ``fetch`` (with the types they run), those an engine reserved
        # to hand an assignment to, the assignments handed over, and those among them the
        # engine already recorded as started (see ``reserve_waiting_worker``).
        self._waiting: dict[str, frozenset[str] | None] = {}
        self._reserved: set[str] = set()
        self._handed: dict[str, TaskAssignment] = {}
        self._started: set[str] = set()

    # --- engine side ---------------------------------------------------------

    def dispatch(self, assignment: TaskAssignment) -> None:
        """Queue ``assignment``; a second dispatch of the same id, or a dispatch of a
        cancelled id, does nothing. After ``close`` it does nothing either: the engine
        re-issues unfinished dispatches when it starts again (ARCHITECTURE rule 5)."""
        with self._lock:
            if self._closed or assignment.id in self._known or assignment.id in self._cancelled:
                return
            self._seq += 1
            self._known.add(assignment.id)
            self._pending[assignment.id] = assignment
            heap = self._heaps.setdefault(assignment.executor_type, [])
            heapq.heappush(heap, (self._sort_key(assignment, self._seq), assignment.id))
            self._work_ready.notify_all()  # waiters may filter by type: wake them all

    def cancel(self, assignment_id: str) -> None:
        """Mark ``assignment_id`` cancelled; if nobody fetched it yet it is dropped."""
        with self._lock:
            self._cancelled.add(assignment_id)
            if self._pending.pop(assignment_id, None) is not None:
                self._known.discard(assignment_id)  # the tombstone in _cancelled is enough

    def take_reports(self, max_items: int = 1000, timeout: float | None = 0) -> list[Report]:
        """Up to ``max_items`` reports, oldest first. Waits up to ``timeout`` seconds for
        the first (``None``: until one arrives or the broker closes), never for more."""
        with self._lock:
            if timeout is None:
                while not self._reports and not self._closed:
                    self._reports_ready.wait()
            elif timeout > 0:
                give_up = time.monotonic() + timeout
                while not self._reports and not self._closed:
                    left = give_up - time.monotonic()
                    if left <= 0:
                        break
                    self._reports_ready.wait(left)
            taken: list[Report] = []
            while self._reports and len(taken) < max_items:
                taken.append(self._reports.popleft())
            return taken

    def flush(self) -> None:
        """Nothing to write: dispatches reach the workers at once."""

    def acknowledge_reports(self) -> None:
        """Nothing to delete: a report taken is gone from the broker."""

    def flush_reports(self, timeout: float) -> bool:
        """Reports reach the engine at once: nothing to wait for."""
        return True

    def run_finished(self, run_id: str) -> None:
        """Nothing kept per run."""

    def pending_count(self) -> int:
        """Assignments dispatched and waiting for a worker."""
        with self._lock:
            return len(self._pending)

    def waiting_reports(self) -> int:
        """Reports handed in and not taken yet."""
        with self._lock:
            return len(self._reports)

    def close(self) -> None:
        """Stop handing out work; wake every blocked ``fetch`` (→ None) and ``take_reports``;
        refuse the starts nobody took (their attempts do not run)."""
        with self._lock:
            self._closed = True
            for report in self._reports:
                if isinstance(report, StartClaim):
                    report.answer(False)
            # Refused starts must not be recorded by a last round that reads the reports.
            self._reports = deque(r for r in self._reports if not isinstance(r, StartClaim))
            self._work_ready.notify_all()
            self._reports_ready.notify_all()

    @property
    def closed(self) -> bool:
        with self._lock:
            return self._closed

    # --- worker side ---------------------------------------------------------

    def fetch(
        self,
        worker_id: str,
        executor_types: Collection[str] | None = None,
        timeout: float | None = None,
    ) -> TaskAssignment | None:
        """The best pending assignment among ``executor_types`` (None: any type): highest
        priority first, then dispatch order (or per ``order``). Waits up to ``timeout``
        seconds (``None``: until work arrives or the broker closes)."""
        give_up = None if timeout is None else time.monotonic() + timeout
        types = None if executor_types is None else frozenset(executor_types)
        with self._lock:
            try:
                while True:
                    if self._closed:
                        return None
                    handed = self._handed.pop(worker_id, None)
                    if handed is not None:
                        return handed
                    # A worker reserved for an assignment waits for it rather than take another.
                    assignment = None if worker_id in self._reserved else self._pop_best(executor_types)
                    if assignment is not None:
                        return assignment
                    left = None if give_up is None else give_up - time.monotonic()
                    if left is not None and left <= 0:
                        return None
                    self._waiting[worker_id] = types
                    self._work_ready.wait(left)
            finally:
                self._waiting.pop(worker_id, None)

    def reserve_waiting_worker(self, executor_type: str) -> str | None:
        """A worker waiting in ``fetch`` for work it could run of ``executor_type``, now
        reserved for one assignment: it takes nothing else until that assignment is handed
        to it (``hand_over``) or the reservation is given up (``release_worker``)."""
        with self._lock:
            if self._closed:
                return None
            for worker_id, types in self._waiting.items():
                if worker_id in self._reserved or worker_id in self._handed:
                    continue
                if types is None or executor_type in types:
                    self._reserved.add(worker_id)
                    return worker_id
            return None

    def release_worker(self, worker_id: str) -> None:
        with self._lock:
            self._reserved.discard(worker_id)
            self._work_ready.notify_all()

    def take_back_handed(self) -> list[tuple[str, TaskAssignment]]:
        """The assignments handed over and not fetched yet, with their workers, taken back
        (the workers are stopping): their starts are recorded, so their owner records them
        lost."""
        with self._lock:
            handed, self._handed = list(self._handed.items()), {}
            for _worker_id, assignment in handed:
                self._started.discard(assignment.id)
            return handed

    def started_before_run(self, assignment_id: str) -> bool:
        """Whether ``assignment_id`` was handed over with its start recorded and its worker
        has not begun it."""
        with self._lock:
            return assignment_id in self._started

    def hand_over(self, worker_id: str, assignment: TaskAssignment) -> None:
        """Give ``assignment`` to the worker reserved for it, its claim and start already
        recorded: that worker's ``claim_start`` of it is granted at once."""
        with self._lock:
            self._reserved.discard(worker_id)
            self._known.add(assignment.id)
            self._started.add(assignment.id)
            self._handed[worker_id] = assignment
            self._work_ready.notify_all()

    def is_cancelled(self, assignment_id: str) -> bool:
        with self._lock:
            return assignment_id in self._cancelled

    def report_started(self, started: TaskStartReport) -> None:
        self._push_report(started)

    def claim_start(self, started: TaskStartReport) -> bool:
        """Hand ``started`` to the engine, which claims the attempt and records the start
        in one transaction (:mod:`aether.runtime.start_claims`); True once both are
        durable, False if the attempt must not run."""
        claim = StartClaim(started)
        with self._lock:
            if started.assignment_id in self._started:
                self._started.discard(started.assignment_id)
                return True  # handed over with its claim and start recorded
            if self._closed:
                return False
            self._reports.append(claim)
            self._reports_ready.notify_all()
        return claim.wait()

    def report_result(self, result: TaskResultReport) -> None:
        with self._lock:
            # The attempt is over: forget its id so the broker's memory does not grow with
            # the number of tasks ever run. Tombstones of cancelled ids that were never
            # fetched stay, so a late re-dispatch of them is still dropped.
            self._known.discard(result.assignment_id)
            self._cancelled.discard(result.assignment_id)
            self._started.discard(result.assignment_id)
        self._push_report(result)

    def release(self, assignment_id: str) -> None:
        """The worker gives ``assignment_id`` back unfinished, without a result (its process
        is stopping): forget it, so that a later dispatch of the same attempt (recovery,
        when an engine starts again on this broker) queues it again."""
        with self._lock:
            self._known.discard(assignment_id)
            self._started.discard(assignment_id)

    # --- internals -----------------------------------------------------------

    def _push_report(self, report: Report) -> None:
        with self._lock:
            self._reports.append(report)
            self._reports_ready.notify_all()

    def _sort_key(self, assignment: TaskAssignment, seq: int) -> _SortKey:
        if self._order == "fifo":
            return (seq,)
        if self._order == "lifo":
            return (-seq,)
        return (-assignment.priority, seq)

    def _pop_best(self, executor_types: Collection[str] | None) -> TaskAssignment | None:
        types = self._heaps.keys() if executor_types is None else executor_types
        best_type: str | None = None
        best_key: _SortKey | None = None
        for executor_type in types:
            heap = self._heaps.get(executor_type)
            if not heap:
                continue
            while heap and heap[0][1] not in self._pending:
                heapq.heappop(heap)  # cancelled while waiting
            if heap and (best_key is None or heap[0][0] < best_key):
                best_type, best_key = executor_type, heap[0][0]
        if best_type is None:
            return None
        _, assignment_id = heapq.heappop(self._heaps[best_type])
        return self._pending.pop(assignment_id)
