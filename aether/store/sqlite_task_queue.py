"""The task queue (:mod:`aether.store.task_queue`) in the SQLite file of the log (tables
of migration 3), for engines and workers in several processes of one machine.

Every call is one transaction on the log's connection; taking work runs under
``BEGIN IMMEDIATE``, so two workers never take the same row, and it claims what it takes
in the same transaction, next to the claims of ``aether.store.sqlite_coordination``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from aether.store.sqlite_coordination import Transactions, check_fence
from aether.store.task_queue import QueuedReport, QueuedTask, TakenTask, WorkerReport

_MAX_PARAMS = 500
_ENDS_ASSIGNMENT = ("result", "lost")


class SqliteTaskQueue:
    def __init__(self, db: Transactions) -> None:
        self._db = db

    def enqueue(self, tasks: Sequence[QueuedTask]) -> None:
        if not tasks:
            return
        with self._db.transaction(doing="queue tasks") as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO task_queue"
                " (assignment_id, run_id, node_id, attempt, executor_type, priority, payload)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (t.assignment_id, t.run_id, t.node_id, t.attempt, t.executor_type, t.priority, t.payload)
                    for t in tasks
                ],
            )

    def cancel(self, assignment_ids: Sequence[str]) -> None:
        if not assignment_ids:
            return
        with self._db.transaction(doing="cancel tasks") as conn:
            conn.executemany(
                "UPDATE task_queue SET cancelled = 1 WHERE assignment_id = ?", [(a,) for a in assignment_ids]
            )

    def reports_for(self, owner_id: str, limit: int) -> list[QueuedReport]:
        with self._db.transaction(write=False, doing="read reports") as conn:
            rows = conn.execute(
                "SELECT r.report_id, r.run_id, r.assignment_id, r.kind, r.payload FROM task_reports r"
                " JOIN run_leases l ON l.run_id = r.run_id WHERE l.owner = ? ORDER BY r.report_id LIMIT ?",
                (owner_id, limit),
            ).fetchall()
        return [QueuedReport(*row) for row in rows]

    def acknowledge(self, report_ids: Sequence[int]) -> None:
        if not report_ids:
            return
        with self._db.transaction(doing="acknowledge reports") as conn:
            conn.executemany("DELETE FROM task_reports WHERE report_id = ?", [(r,) for r in report_ids])

    def waiting_count(self, owner_id: str) -> int:
        with self._db.transaction(write=False, doing="count queued tasks") as conn:
            (count,) = conn.execute(
                "SELECT count(*) FROM task_queue q JOIN run_leases l ON l.run_id = q.run_id"
                " WHERE l.owner = ? AND q.taken_by IS NULL AND q.cancelled = 0",
                (owner_id,),
            ).fetchone()
        return int(count)

    def forget_runs(self, run_ids: Sequence[str]) -> None:
        if not run_ids:
            return
        with self._db.transaction(doing="forget finished tasks") as conn:
            rows = [(r,) for r in run_ids]
            conn.executemany("DELETE FROM task_queue WHERE run_id = ? AND taken_by IS NULL", rows)
            # A task still running is stopped by its worker once it sees the mark (the run's
            # cancellations are written in the same flush and must not be lost with it); its
            # row goes when that worker reports.
            conn.executemany("UPDATE task_queue SET cancelled = 1 WHERE run_id = ?", rows)
            conn.executemany("DELETE FROM task_reports WHERE run_id = ?", rows)

    def take(
        self,
        member_id: str,
        worker_id: str,
        executor_types: Collection[str] | None,
        limit: int,
        claimed_ms: int,
    ) -> list[TakenTask]:
        if limit < 1 or (executor_types is not None and not executor_types):
            return []
        where = "taken_by IS NULL AND cancelled = 0"
        params: list[object] = []
        if executor_types is not None:
            types = sorted(executor_types)[:_MAX_PARAMS]
            where += f" AND executor_type IN ({', '.join('?' * len(types))})"
            params.extend(types)
        with self._db.transaction(doing="take tasks") as conn:
            check_fence(conn, member_id)
            rows = conn.execute(
                f"SELECT seq, assignment_id, run_id, node_id, attempt, payload FROM task_queue WHERE {where}"
                " ORDER BY priority DESC, seq LIMIT ?",
                (*params, limit),
            ).fetchall()
            taken: list[TakenTask] = []
            for seq, assignment_id, run_id, node_id, attempt, payload in rows:
                claimed = conn.execute(
                    "INSERT OR IGNORE INTO claims"
                    " (assignment_id, run_id, node_id, attempt, worker_id, member_id, claimed_ms)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (assignment_id, run_id, node_id, attempt, worker_id, member_id, claimed_ms),
                ).rowcount
                if claimed:
                    conn.execute("UPDATE task_queue SET taken_by = ? WHERE seq = ?", (member_id, seq))
                    taken.append(TakenTask(assignment_id, payload))
                else:  # claimed before (a copy queued again by a takeover): never run twice
                    conn.execute("DELETE FROM task_queue WHERE seq = ?", (seq,))
        return taken

    def cancelled(self, assignment_ids: Collection[str]) -> set[str]:
        ids = list(assignment_ids)
        found: set[str] = set()
        with self._db.transaction(write=False, doing="read cancellations") as conn:
            for i in range(0, len(ids), _MAX_PARAMS):
                chunk = ids[i : i + _MAX_PARAMS]
                found.update(
                    a
                    for (a,) in conn.execute(
                        f"SELECT assignment_id FROM task_queue WHERE cancelled = 1"
                        f" AND assignment_id IN ({', '.join('?' * len(chunk))})",
                        chunk,
                    )
                )
        return found

    def report(self, reports: Sequence[WorkerReport], reported_ms: int) -> None:
        if not reports:
            return
        with self._db.transaction(doing="report") as conn:
            # A run without a lease is finished and released: no engine would ever read it.
            conn.executemany(
                "INSERT INTO task_reports (run_id, assignment_id, kind, payload, reported_ms)"
                " SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM run_leases WHERE run_id = ?)",
                [(r.run_id, r.assignment_id, r.kind, r.payload, reported_ms, r.run_id) for r in reports],
            )
            conn.executemany(
                "DELETE FROM task_queue WHERE assignment_id = ?",
                [(r.assignment_id,) for r in reports if r.kind in _ENDS_ASSIGNMENT],
            )


__all__ = ["SqliteTaskQueue"]
