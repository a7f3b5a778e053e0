"""A task broker over the database's task queue (``aether.store.task_queue``): engines and
workers in different processes, on different machines, exchange assignments and reports
through the database (ARCHITECTURE rule 9).

One class serves both sides, like :class:`~aether.runtime.broker.LocalBroker`:

- the engine side dispatches and cancels (buffered, and written in one transaction when
  the engine calls :meth:`QueueBroker.flush` after a round of decisions), reads the reports
  about the runs it holds, and acknowledges them once they are recorded;
- the worker side takes and claims assignments in one transaction, reports starts and
  results, and learns of cancellations by asking the queue about what it runs.

Waiting for work or reports uses a :class:`Waker`: a PostgreSQL ``LISTEN`` wakes at once;
SQLite polls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from typing import Protocol

from aether.events.assignment import TaskAssignment, TaskResultReport, TaskStartReport
from aether.events.assignment_codec import (
    Report,
    TaskLostReport,
    UnreadableWork,
    decode_assignment,
    decode_report,
    encode_assignment,
    encode_report,
    report_kind,
)
from aether.runtime.executors.base import CODE_ERROR
from aether.store.coordination import Fenced
from aether.store.task_queue import QueuedReport, QueuedTask, TaskQueue, WorkerReport

_log = logging.getLogger(__name__)


class Waker(Protocol):
    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds or until something may have changed; True if
        woken early. A hint only: the caller reads the queue again either way."""
        ...

    def wake(self) -> None:
        """Wake every waiter now, and from now on: the broker is closing."""
        ...


class PollingWaker:
    """Wakes every ``interval`` seconds: for a database that cannot notify (SQLite)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self._event = threading.Event()

    def wait(self, timeout: float) -> bool:
        woken = self._event.wait(min(timeout, self.interval))
        return woken

    def wake(self) -> None:
        self._event.set()


class NotifiedWaker:
    """Wakes when the database notifies ``channel`` (a PostgreSQL ``LISTEN``, through
    ``subscribe``, which registers a callback taking the channel and the payload), and
    every ``fallback`` seconds regardless, since a notification is only a hint: one sent
    while the listener reconnects is lost. Every waiting thread wakes, and a thread also
    counts the notifications that arrived since its previous wait, while it was reading."""

    def __init__(
        self,
        subscribe: Callable[[Callable[[str, str], None]], None],
        channel: str,
        *,
        fallback: float = 1.0,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.channel = channel
        self.fallback = fallback
        self._changed = threading.Condition()
        self._generation = 0
        self._seen = threading.local()
        self._closed = False
        self._on_close = on_close
        subscribe(self._notified)

    def _notified(self, channel: str, _payload: str) -> None:
        if channel != self.channel:
            return
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def wait(self, timeout: float) -> bool:
        with self._changed:
            seen = getattr(self._seen, "generation", self._generation)
            self._changed.wait_for(
                lambda: self._generation != seen or self._closed, max(0.0, min(timeout, self.fallback))
            )
            self._seen.generation = self._generation
            return self._generation != seen or self._closed

    def wake(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self._on_close is not None:
            self._on_close()


class QueueBroker:
    """A broker whose queue is in the database. ``member`` gives the id of this process's
    member (engines read the reports of the runs it leases; workers claim as it).
    ``report_releases``: an assignment a worker gives back is reported lost, for the
    run's owner to record (a standalone worker); an engine with its own workers records
    those itself instead."""

    # Taking an assignment claims it (ARCHITECTURE rule 6): workers need no second claim.
    claims_on_fetch = True

    # How long a worker reuses what it learnt of cancellations before asking again.
    CANCEL_CHECK_SECONDS = 0.5

    def __init__(
        self,
        queue: TaskQueue,
        *,
        member: Callable[[], str | None],
        now_ms: Callable[[], int],
        work_waker: Waker | None = None,
        report_waker: Waker | None = None,
        report_releases: bool = False,
    ) -> None:
        self._queue = queue
        self._member = member
        self._now_ms = now_ms
        self._work_waker: Waker = work_waker if work_waker is not None else PollingWaker()
        self._report_waker: Waker = report_waker if report_waker is not None else PollingWaker()
        self._report_releases = report_releases
        self._lock = threading.Lock()
        self._to_queue: list[QueuedTask] = []
        self._to_cancel: list[str] = []
        self._to_forget: list[str] = []
        self._unacknowledged: dict[int, None] = {}  # report ids taken, in order
        self._taken: dict[str, tuple[TaskAssignment, str]] = {}  # by assignment id: (assignment, worker)
        self._cancelled: set[str] = set()
        self._cancel_checked = 0.0
        self._outgoing: list[WorkerReport] = []
        self._outgoing_ready = threading.Condition(self._lock)
        self._reporter: threading.Thread | None = None
        self._writing = 0  # reports in the transaction being written
        self._closed = False
        self.fenced = False

    # --- engine side ---------------------------------------------------------------------

    def dispatch(self, assignment: TaskAssignment) -> None:
        task = QueuedTask(
            assignment.id,
            assignment.run_id,
            assignment.node_id,
            assignment.attempt,
            assignment.executor_type,
            assignment.priority,
            encode_assignment(assignment),
        )
        with self._lock:
            self._to_queue.append(task)

    def cancel(self, assignment_id: str) -> None:
        with self._lock:
            self._to_cancel.append(assignment_id)

    def run_finished(self, run_id: str) -> None:
        with self._lock:
            self._to_forget.append(run_id)

    def flush(self) -> None:
        """Write what was dispatched, cancelled and finished since the last flush, in as
        few transactions as the queue allows. On failure the writes are kept for the next
        flush: the decisions behind them are recorded already."""
        with self._lock:
            queued, cancels, finished = self._to_queue, self._to_cancel, self._to_forget
            self._to_queue, self._to_cancel, self._to_forget = [], [], []
        try:
            self._queue.enqueue(queued)
            self._queue.cancel(cancels)
            self._queue.forget_runs(finished)
        except Exception:
            with self._lock:
                self._to_queue[:0], self._to_cancel[:0], self._to_forget[:0] = queued, cancels, finished
            raise

    def take_reports(self, max_items: int = 1000, timeout: float | None = 0) -> list[Report]:
        """Up to ``max_items`` reports about the runs this member holds, oldest first,
        waiting up to ``timeout`` seconds for the first. They stay in the queue until
        :meth:`acknowledge_reports`, so a report is never lost to a crash before it is
        recorded; one read again is recorded as a duplicate and changes nothing."""
        self.flush()
        member = self._member()
        give_up = None if timeout is None else time.monotonic() + timeout
        while True:
            if member is not None and not self.closed:
                found = self._queue.reports_for(member, max_items)
                fresh = [r for r in found if r.report_id not in self._unacknowledged]
                if fresh:
                    with self._lock:
                        self._unacknowledged.update(dict.fromkeys(r.report_id for r in fresh))
                    return self._decoded(fresh)
            left = None if give_up is None else give_up - time.monotonic()
            if self.closed or (left is not None and left <= 0):
                return []
            self._report_waker.wait(0.5 if left is None else left)

    def acknowledge_reports(self) -> None:
        """The reports taken so far are recorded: delete them from the queue."""
        with self._lock:
            done = list(self._unacknowledged)
        if not done:
            return
        self._queue.acknowledge(done)
        with self._lock:
            for report_id in done:
                self._unacknowledged.pop(report_id, None)

    def pending_count(self) -> int:
        """Assignments of this member's runs waiting for a worker (queued or not yet written)."""
        with self._lock:
            buffered = len(self._to_queue)
        member = self._member()
        return buffered + (0 if member is None else self._queue.waiting_count(member))

    def close(self) -> None:
        """Stop handing out work and wake every waiter; reports still to be written are
        written first (for up to ``CLOSE_WAIT_SECONDS``)."""
        with self._lock:
            self._closed = True
            self._outgoing_ready.notify_all()
            reporter = self._reporter
        if reporter is not None and reporter is not threading.current_thread():
            reporter.join(self.CLOSE_WAIT_SECONDS)
        self._work_waker.wake()
        self._report_waker.wake()

    @property
    def closed(self) -> bool:
        with self._lock:
            return self._closed

    # --- worker side ---------------------------------------------------------------------

    def fetch(
        self, worker_id: str, executor_types: Collection[str] | None = None, timeout: float | None = None
    ) -> TaskAssignment | None:
        """Take and claim the best waiting assignment among ``executor_types``; wait up to
        ``timeout`` seconds for one. None when there is none, the broker is closed, or
        this member was fenced (it may take nothing more)."""
        give_up = None if timeout is None else time.monotonic() + timeout
        while not self.closed and not self.fenced:
            member = self._member()
            if member is not None:
                try:
                    taken = self._queue.take(member, worker_id, executor_types, 1, self._now_ms())
                except Fenced:
                    self.fenced = True
                    return None
                for task in taken:
                    try:
                        assignment = decode_assignment(task.payload)
                    except UnreadableWork as exc:
                        _log.error("assignment %s cannot be read by this worker: %s", task.assignment_id, exc)
                        self._refuse_unreadable(task.assignment_id, worker_id, str(exc))
                        continue
                    with self._lock:
                        self._taken[assignment.id] = (assignment, worker_id)
                    return assignment
            left = None if give_up is None else give_up - time.monotonic()
            if left is not None and left <= 0:
                return None
            self._work_waker.wait(0.5 if left is None else left)
        return None

    def _refuse_unreadable(self, assignment_id: str, worker_id: str, why: str) -> None:
        """An assignment this worker took but cannot read (written by a newer Aether, or
        damaged) fails with code 3 saying so, rather than holding its claim unrun."""
        run_id, _, rest = assignment_id.partition(":")
        node_id, _, attempt = rest.rpartition("#")
        if not (run_id and node_id and attempt.isdigit()):
            return  # not an id this Aether writes: its claim dies with this process
        message = f"the worker cannot read this assignment: {why}"
        self._write(TaskResultReport(assignment_id, run_id, node_id, int(attempt), worker_id, CODE_ERROR, message))

    def report_started(self, started: TaskStartReport) -> None:
        self._write(started)

    def report_result(self, result: TaskResultReport) -> None:
        self._write(result)
        with self._lock:
            self._taken.pop(result.assignment_id, None)
            self._cancelled.discard(result.assignment_id)

    def is_cancelled(self, assignment_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            stale = now - self._cancel_checked > self.CANCEL_CHECK_SECONDS
            running = list(self._taken)
        if stale and running:
            found = self._queue.cancelled(running)
            with self._lock:
                self._cancelled |= found
                self._cancel_checked = now
        with self._lock:
            return assignment_id in self._cancelled

    def release(self, assignment_id: str) -> None:
        """Give back an assignment this process will not finish. It stays claimed (an
        attempt runs once), so a standalone worker reports it lost and the run's owner
        records the loss and dispatches the next attempt."""
        with self._lock:
            taken = self._taken.pop(assignment_id, None)
        member = self._member()
        if taken is None or not self._report_releases or member is None:
            return
        assignment, worker_id = taken
        self._write(
            TaskLostReport(assignment.id, assignment.run_id, assignment.node_id, assignment.attempt, worker_id, member)
        )

    def _write(self, report: Report) -> None:
        """Hand ``report`` to the reporter thread, which writes whatever has gathered in one
        transaction (group commit): a worker thread never waits for the database to report,
        and reports of many tasks share one commit. A report still in memory when the
        process dies is lost with it; the attempt's claim then dies too, and the run's owner
        records the attempt as lost and runs it again."""
        written = WorkerReport(report.run_id, report.assignment_id, report_kind(report), encode_report(report))
        with self._lock:
            self._outgoing.append(written)
            self._outgoing_ready.notify()
            if self._reporter is None:
                self._reporter = threading.Thread(target=self._report_loop, name="aether-reporter", daemon=True)
                self._reporter.start()

    def _report_loop(self) -> None:
        failures = 0
        while True:
            with self._lock:
                while not self._outgoing and not self._closed:
                    self._outgoing_ready.wait()
                if not self._outgoing:
                    return
                batch, self._outgoing = self._outgoing, []
                closing = self._closed
                self._writing = len(batch)
            try:
                self._queue.report(batch, self._now_ms())
                failures = 0
                with self._lock:
                    self._writing = 0
                    self._outgoing_ready.notify_all()
            except Exception:
                failures += 1
                _log.exception("writing %d worker reports failed (%d times in a row)", len(batch), failures)
                if closing and failures >= self.REPORT_ATTEMPTS_AT_CLOSE:
                    return  # their claims die with this process; the attempts run again
                with self._lock:
                    self._writing = 0
                    self._outgoing[:0] = batch
                time.sleep(min(0.1 * failures, 2.0))

    def flush_reports(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until every report handed over so far is written;
        True if they are."""
        give_up = time.monotonic() + timeout
        with self._lock:
            while self._outgoing or self._writing:
                left = give_up - time.monotonic()
                if left <= 0:
                    return False
                self._outgoing_ready.wait(left)
        return True

    # Tries to write the last reports once the broker is closing, before giving them up.
    REPORT_ATTEMPTS_AT_CLOSE = 5
    # Seconds ``close`` waits for the reporter to write what it holds.
    CLOSE_WAIT_SECONDS = 15.0

    @staticmethod
    def _decoded(found: list[QueuedReport]) -> list[Report]:
        reports: list[Report] = []
        for queued in found:
            try:
                reports.append(decode_report(queued.kind, queued.payload))
            except UnreadableWork as exc:
                # Acknowledged with the rest, so it cannot block the queue; the attempt it
                # was about is recorded lost when its claim dies, or times out.
                _log.error("report %d about %s cannot be read: %s", queued.report_id, queued.assignment_id, exc)
        return reports


__all__ = ["NotifiedWaker", "PollingWaker", "QueueBroker", "Waker"]
