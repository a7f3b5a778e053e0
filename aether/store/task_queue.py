"""The task queue: assignments and worker reports kept in the database, so that engines and
workers in different processes, on different machines, meet there (ARCHITECTURE rule 9).

An engine *enqueues* the assignments it dispatches. A worker *takes* the best one among
the executor types it runs (priority, then dispatch order, SPEC §15) and claims it in the
same transaction (rule 6): an assignment is taken once, ever, and only by a live member.
The worker then *reports* its start and its result (or, when it stops without finishing, its
loss); the engine holding the run's lease *reads* those reports, records them in the run's
stream, and *acknowledges* them. Reports are deleted only once acknowledged, so a report
read by an engine that died before recording it is read again by the run's next owner.

Payloads are opaque bytes to the store (``aether.events.assignment_codec`` encodes them).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from attrs import frozen


@frozen
class QueuedTask:
    """One assignment to enqueue: the columns a worker selects on, and its encoded form."""

    assignment_id: str
    run_id: str
    node_id: str
    attempt: int
    executor_type: str
    priority: int
    payload: bytes


@frozen
class TakenTask:
    assignment_id: str
    payload: bytes


@frozen
class QueuedReport:
    report_id: int
    run_id: str
    assignment_id: str
    kind: str
    payload: bytes


@frozen
class WorkerReport:
    """One report to write. A ``result`` or ``lost`` report ends the assignment: its queue
    row goes in the same transaction."""

    run_id: str
    assignment_id: str
    kind: str
    payload: bytes


class TaskQueue(Protocol):
    # --- engine side ---------------------------------------------------------------------

    def enqueue(self, tasks: Sequence[QueuedTask]) -> None:
        """Queue ``tasks``; an assignment already queued (or taken) stays as it is."""
        ...

    def cancel(self, assignment_ids: Sequence[str]) -> None:
        """Mark assignments cancelled: one not taken yet is never handed out; a worker
        running one sees the mark (:meth:`cancelled`) and stops it."""
        ...

    def reports_for(self, owner_id: str, limit: int) -> list[QueuedReport]:
        """Up to ``limit`` unacknowledged reports about runs ``owner_id`` holds the lease
        of, oldest first."""
        ...

    def acknowledge(self, report_ids: Sequence[int]) -> None:
        """Delete reports their run's owner has recorded."""
        ...

    def waiting_count(self, owner_id: str) -> int:
        """Assignments of ``owner_id``'s runs queued, not cancelled and not taken yet."""
        ...

    def forget_runs(self, run_ids: Sequence[str]) -> None:
        """Drop the waiting tasks and the reports of finished runs. A task of theirs that a
        worker runs is marked cancelled instead, so the worker stops it; its row goes when
        the worker reports."""
        ...

    # --- worker side ---------------------------------------------------------------------

    def take(
        self,
        member_id: str,
        worker_id: str,
        executor_types: Collection[str] | None,
        limit: int,
        claimed_ms: int,
    ) -> list[TakenTask]:
        """Take and claim up to ``limit`` of the best waiting assignments among
        ``executor_types`` (None: any), for ``worker_id`` of member ``member_id``. Raises
        :class:`~aether.store.coordination.Fenced` if that member is no longer registered."""
        ...

    def cancelled(self, assignment_ids: Collection[str]) -> set[str]:
        """Which of ``assignment_ids`` are marked cancelled."""
        ...

    def report(self, reports: Sequence[WorkerReport], reported_ms: int) -> None:
        """Write ``reports`` in one transaction (group commit). A report about a run that
        has no lease (finished and released) is not kept: no engine would read it."""
        ...


__all__ = ["QueuedReport", "QueuedTask", "TakenTask", "TaskQueue", "WorkerReport"]
