"""The task queue (:mod:`aether.store.task_queue`) in PostgreSQL (tables of migration 3 of
:mod:`aether.store.postgres_migrations`), for engines and workers on many machines.

Workers take rows with ``FOR UPDATE SKIP LOCKED``: concurrent takers skip the rows another
transaction is taking instead of queueing behind it, and each row is handed to one of them.
The claim is written in the same transaction. Enqueueing notifies ``aether_tasks`` and
reporting notifies ``aether_reports`` (on commit), so idle workers and engines listening
with :class:`~aether.store.postgres_notify.Listener` wake at once instead of polling.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Sequence
from typing import Any, Protocol

from psycopg import Connection

from aether.store.coordination import Fenced
from aether.store.task_queue import QueuedReport, QueuedTask, TakenTask, WorkerReport

TASKS_CHANNEL = "aether_tasks"
REPORTS_CHANNEL = "aether_reports"
_ENDS_ASSIGNMENT = ["result", "lost"]

# Taking is one statement, so one round trip: check the member is registered (and keep
# it so until commit), pick the best waiting rows other takers have not locked, claim
# them, mark the claimed rows taken and drop the rows claimed before (a copy queued again
# by a takeover: never run twice). The first column says whether the member is registered;
# a row with no task follows when nothing was taken.
_TAKE = (
    "WITH fence AS MATERIALIZED ("
    " SELECT member_id FROM members WHERE member_id = %(member)s FOR KEY SHARE),"
    " picked AS MATERIALIZED ("
    " SELECT seq, assignment_id, run_id, node_id, attempt, payload, priority FROM task_queue"
    " WHERE taken_by IS NULL AND NOT cancelled{types} AND EXISTS (SELECT 1 FROM fence)"
    " ORDER BY priority DESC, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED),"
    " claimed AS ("
    " INSERT INTO claims (assignment_id, run_id, node_id, attempt, worker_id, member_id, claimed_ms)"
    " SELECT assignment_id, run_id, node_id, attempt, %(worker)s, %(member)s, %(ms)s FROM picked"
    " ON CONFLICT DO NOTHING RETURNING assignment_id),"
    " taken AS ("
    " UPDATE task_queue q SET taken_by = %(member)s FROM claimed c WHERE q.assignment_id = c.assignment_id"
    " RETURNING q.assignment_id),"
    " dropped AS ("
    " DELETE FROM task_queue q USING picked p WHERE q.seq = p.seq"
    " AND NOT EXISTS (SELECT 1 FROM claimed c WHERE c.assignment_id = p.assignment_id))"
    " SELECT EXISTS (SELECT 1 FROM fence), p.seq, p.assignment_id, p.payload, p.priority"
    " FROM (SELECT 1) AS one LEFT JOIN picked p ON p.assignment_id IN (SELECT assignment_id FROM taken)"
)


class _Statements(Protocol):
    def run_statement(self, sql: str, params: Any, *, doing: str) -> list[Any]: ...


class _Transactions(Protocol):
    def transaction(
        self, *, write: bool = True, doing: str = "write"
    ) -> contextlib.AbstractContextManager[Connection[Any]]: ...


class _Database(_Transactions, _Statements, Protocol):
    pass


class PostgresTaskQueue:
    def __init__(self, db: _Database) -> None:
        self._db = db
        self._statements: _Statements = db

    def enqueue(self, tasks: Sequence[QueuedTask]) -> None:
        if not tasks:
            return
        with self._db.transaction(doing="queue tasks") as conn:
            conn.execute(
                "INSERT INTO task_queue (assignment_id, run_id, node_id, attempt, executor_type, priority, payload)"
                " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::int[], %s::text[], %s::int[],"
                " %s::bytea[]) ON CONFLICT (assignment_id) DO NOTHING",
                (
                    [t.assignment_id for t in tasks],
                    [t.run_id for t in tasks],
                    [t.node_id for t in tasks],
                    [t.attempt for t in tasks],
                    [t.executor_type for t in tasks],
                    [t.priority for t in tasks],
                    [t.payload for t in tasks],
                ),
            )
            conn.execute("SELECT pg_notify(%s, '')", (TASKS_CHANNEL,))

    def cancel(self, assignment_ids: Sequence[str]) -> None:
        if not assignment_ids:
            return
        with self._db.transaction(doing="cancel tasks") as conn:
            conn.execute(
                "UPDATE task_queue SET cancelled = TRUE WHERE assignment_id = ANY(%s)", (list(assignment_ids),)
            )

    def reports_for(self, owner_id: str, limit: int) -> list[QueuedReport]:
        rows = self._statements.run_statement(
            "SELECT r.report_id, r.run_id, r.assignment_id, r.kind, r.payload FROM task_reports r"
            " JOIN run_leases l ON l.run_id = r.run_id WHERE l.owner = %s ORDER BY r.report_id LIMIT %s",
            (owner_id, limit),
            doing="read reports",
        )
        return [
            QueuedReport(int(i), run, assignment, kind, bytes(payload)) for i, run, assignment, kind, payload in rows
        ]

    def acknowledge(self, report_ids: Sequence[int]) -> None:
        if not report_ids:
            return
        self._statements.run_statement(
            "DELETE FROM task_reports WHERE report_id = ANY(%s)", (list(report_ids),), doing="acknowledge reports"
        )

    def waiting_count(self, owner_id: str) -> int:
        rows = self._statements.run_statement(
            "SELECT count(*) FROM task_queue q JOIN run_leases l ON l.run_id = q.run_id"
            " WHERE l.owner = %s AND q.taken_by IS NULL AND NOT q.cancelled",
            (owner_id,),
            doing="count queued tasks",
        )
        return int(rows[0][0]) if rows else 0

    def forget_runs(self, run_ids: Sequence[str]) -> None:
        if not run_ids:
            return
        with self._db.transaction(doing="forget finished tasks") as conn:
            conn.execute("DELETE FROM task_queue WHERE run_id = ANY(%s) AND taken_by IS NULL", (list(run_ids),))
            # A task still running is stopped by its worker once it sees the mark (the run's
            # cancellations are written in the same flush and must not be lost with it); its
            # row goes when that worker reports.
            conn.execute("UPDATE task_queue SET cancelled = TRUE WHERE run_id = ANY(%s)", (list(run_ids),))
            conn.execute("DELETE FROM task_reports WHERE run_id = ANY(%s)", (list(run_ids),))

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
        params: dict[str, Any] = {"limit": limit, "member": member_id, "worker": worker_id, "ms": claimed_ms}
        types = ""
        if executor_types is not None:
            types = " AND executor_type = ANY(%(types)s)"
            params["types"] = sorted(executor_types)
        rows = self._statements.run_statement(_TAKE.format(types=types), params, doing="take tasks")
        if not rows or not rows[0][0]:
            raise Fenced(member_id)
        # The rows come in no order: hand them out best first, as they were picked.
        found = sorted((row for row in rows if row[2] is not None), key=lambda row: (-row[4], row[1]))
        return [TakenTask(row[2], bytes(row[3])) for row in found]

    def cancelled(self, assignment_ids: Collection[str]) -> set[str]:
        if not assignment_ids:
            return set()
        rows = self._statements.run_statement(
            "SELECT assignment_id FROM task_queue WHERE cancelled AND assignment_id = ANY(%s)",
            (list(assignment_ids),),
            doing="read cancellations",
        )
        return {assignment_id for (assignment_id,) in rows}

    def report(self, reports: Sequence[WorkerReport], reported_ms: int) -> None:
        if not reports:
            return
        # One round trip for the three statements: the server runs them in order.
        with self._db.transaction(doing="report") as conn, conn.pipeline():
            conn.execute(
                "INSERT INTO task_reports (run_id, assignment_id, kind, payload, reported_ms)"
                " SELECT r, a, k, p, %s FROM unnest(%s::text[], %s::text[], %s::text[], %s::bytea[])"
                " WITH ORDINALITY AS u(r, a, k, p, n)"
                # A run without a lease is finished and released: no engine would ever read it.
                " WHERE EXISTS (SELECT 1 FROM run_leases l WHERE l.run_id = u.r)"
                # Ids follow the order of the reports (a start before its result): the
                # semi-join alone may hand the rows over in any order.
                " ORDER BY n",
                (
                    reported_ms,
                    [r.run_id for r in reports],
                    [r.assignment_id for r in reports],
                    [r.kind for r in reports],
                    [r.payload for r in reports],
                ),
            )
            ended = [r.assignment_id for r in reports if r.kind in _ENDS_ASSIGNMENT]
            if ended:
                conn.execute("DELETE FROM task_queue WHERE assignment_id = ANY(%s)", (ended,))
            conn.execute("SELECT pg_notify(%s, '')", (REPORTS_CHANNEL,))


__all__ = ["REPORTS_CHANNEL", "TASKS_CHANNEL", "PostgresTaskQueue"]
