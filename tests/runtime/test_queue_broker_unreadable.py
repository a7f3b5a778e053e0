"""A worker that takes an assignment it cannot read (written by a newer Aether, or damaged)
fails it with code 3 (SPEC §14.1: a worker failure is a result), so the attempt does not
stay claimed and unrun for as long as that worker lives."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pytest

from aether.events.assignment_codec import decode_report
from aether.runtime.queue_broker import QueueBroker
from aether.store.task_queue import QueuedReport, QueuedTask, TakenTask, WorkerReport

pytestmark = pytest.mark.spec("14.1", "15")


class OneUnreadableTask:
    def __init__(self, assignment_id: str) -> None:
        self.waiting = [TakenTask(assignment_id, b"\x00 not an assignment")]
        self.reports: list[WorkerReport] = []

    def take(
        self, member_id: str, worker_id: str, executor_types: Collection[str] | None, limit: int, claimed_ms: int
    ) -> list[TakenTask]:
        taken, self.waiting = self.waiting, []
        return taken

    def report(self, reports: Sequence[WorkerReport], reported_ms: int) -> None:
        self.reports.extend(reports)

    def enqueue(self, tasks: Sequence[QueuedTask]) -> None: ...
    def cancel(self, assignment_ids: Sequence[str]) -> None: ...
    def reports_for(self, owner_id: str, limit: int) -> list[QueuedReport]:
        return []

    def acknowledge(self, report_ids: Sequence[int]) -> None: ...
    def waiting_count(self, owner_id: str) -> int:
        return 0

    def forget_runs(self, run_ids: Sequence[str]) -> None: ...
    def cancelled(self, assignment_ids: Collection[str]) -> set[str]:
        return set()


def test_an_unreadable_assignment_is_failed_with_code_3_instead_of_held() -> None:
    queue = OneUnreadableTask("run-1:main/a#2")
    broker = QueueBroker(queue, member=lambda: "worker-host-1", now_ms=lambda: 0)
    assert broker.fetch("worker-host-1-1", None, timeout=0.01) is None
    assert broker.flush_reports(5.0)
    broker.close()
    assert [(r.run_id, r.assignment_id, r.kind) for r in queue.reports] == [("run-1", "run-1:main/a#2", "result")]
    result = decode_report("result", queue.reports[0].payload)
    assert (result.node_id, result.attempt, result.code) == ("main/a", 2, 3)
    assert "cannot read this assignment" in result.message
