"""Task logs (:mod:`aether.store.task_logs`) in PostgreSQL (the ``task_logs`` table of
migration 4 of :mod:`aether.store.postgres_migrations`), so a worker on any machine ships
its tasks' output through the database it already reaches. Every append notifies
``aether_logs`` on commit, with the run id as payload, for readers that follow a run."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, Protocol, cast

from psycopg import Connection

from aether.store.task_logs import LoggedAttempt, Stream, TaskLogChunk

LOGS_CHANNEL = "aether_logs"

_ATTEMPTS = (
    "SELECT node_id, attempt, min(at_ms), max(seq) FROM task_logs WHERE run_id = %s{node}"
    " GROUP BY node_id, attempt ORDER BY min(at_ms), node_id, attempt"
)


class _Transactions(Protocol):
    def transaction(
        self, *, write: bool = True, doing: str = "write"
    ) -> contextlib.AbstractContextManager[Connection[Any]]: ...


class PostgresTaskLogs:
    def __init__(self, db: _Transactions) -> None:
        self._db = db

    def append(self, chunks: Sequence[TaskLogChunk]) -> None:
        if not chunks:
            return
        with self._db.transaction(doing="write task logs") as conn:
            conn.execute(
                "INSERT INTO task_logs (run_id, node_id, attempt, seq, stream, at_ms, data)"
                " SELECT * FROM unnest(%s::text[], %s::text[], %s::int[], %s::bigint[], %s::text[],"
                " %s::bigint[], %s::bytea[])",
                (
                    [c.run_id for c in chunks],
                    [c.node_id for c in chunks],
                    [c.attempt for c in chunks],
                    [c.seq for c in chunks],
                    [c.stream for c in chunks],
                    [c.at_ms for c in chunks],
                    [c.data for c in chunks],
                ),
            )
            for run_id in sorted({c.run_id for c in chunks}):
                conn.execute("SELECT pg_notify(%s, %s)", (LOGS_CHANNEL, run_id))

    def attempts(self, run_id: str, node_id: str | None = None) -> list[LoggedAttempt]:
        query = _ATTEMPTS.format(node="" if node_id is None else " AND node_id = %s")
        params: tuple[str, ...] = (run_id,) if node_id is None else (run_id, node_id)
        with self._db.transaction(write=False, doing="read task logs") as conn:
            rows = conn.execute(query, params).fetchall()
        return [LoggedAttempt(node, int(attempt), int(first), int(last)) for node, attempt, first, last in rows]

    def read(self, run_id: str, node_id: str, attempt: int, after_seq: int = 0) -> list[TaskLogChunk]:
        with self._db.transaction(write=False, doing="read task logs") as conn:
            rows = conn.execute(
                "SELECT seq, stream, at_ms, data FROM task_logs"
                " WHERE run_id = %s AND node_id = %s AND attempt = %s AND seq > %s ORDER BY seq, id",
                (run_id, node_id, attempt, after_seq),
            ).fetchall()
        return [
            TaskLogChunk(run_id, node_id, attempt, int(seq), cast(Stream, stream), int(at_ms), bytes(data))
            for seq, stream, at_ms, data in rows
        ]
