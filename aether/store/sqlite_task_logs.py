"""Task logs (:mod:`aether.store.task_logs`) in the SQLite file of the event log (the
``task_logs`` table of migration 4), written and read through the log's connection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from aether.store.sqlite_coordination import Transactions
from aether.store.task_logs import LoggedAttempt, Stream, TaskLogChunk

_ATTEMPTS = (
    "SELECT node_id, attempt, min(at_ms), max(seq) FROM task_logs WHERE run_id = ?{node}"
    " GROUP BY node_id, attempt ORDER BY min(at_ms), node_id, attempt"
)


class SqliteTaskLogs:
    def __init__(self, db: Transactions) -> None:
        self._db = db

    def append(self, chunks: Sequence[TaskLogChunk]) -> None:
        if not chunks:
            return
        with self._db.transaction(doing="write task logs") as conn:
            conn.executemany(
                "INSERT INTO task_logs (run_id, node_id, attempt, seq, stream, at_ms, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(c.run_id, c.node_id, c.attempt, c.seq, c.stream, c.at_ms, c.data) for c in chunks],
            )

    def attempts(self, run_id: str, node_id: str | None = None) -> list[LoggedAttempt]:
        query = _ATTEMPTS.format(node="" if node_id is None else " AND node_id = ?")
        params: tuple[str, ...] = (run_id,) if node_id is None else (run_id, node_id)
        with self._db.transaction(write=False, doing="read task logs") as conn:
            rows = conn.execute(query, params).fetchall()
        return [LoggedAttempt(node, int(attempt), int(first), int(last)) for node, attempt, first, last in rows]

    def read(self, run_id: str, node_id: str, attempt: int, after_seq: int = 0) -> list[TaskLogChunk]:
        with self._db.transaction(write=False, doing="read task logs") as conn:
            rows = conn.execute(
                "SELECT seq, stream, at_ms, data FROM task_logs"
                " WHERE run_id = ? AND node_id = ? AND attempt = ? AND seq > ? ORDER BY seq, id",
                (run_id, node_id, attempt, after_seq),
            ).fetchall()
        return [
            TaskLogChunk(run_id, node_id, attempt, int(seq), cast(Stream, stream), int(at_ms), bytes(data))
            for seq, stream, at_ms, data in rows
        ]
