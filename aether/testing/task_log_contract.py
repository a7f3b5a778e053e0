"""The ``TaskLogStore`` contract (aether/store/task_logs.py: every attempt's output, kept
beside the event log), as a test class an adapter's suite subclasses, in the manner of
:mod:`aether.testing.task_queue_contract`.

Task logs live in the database of an event log, so the contract opens its databases
through the event-log adapters of :mod:`aether.testing.adapters` named in
:data:`TASK_LOG_ADAPTERS`; an adapter whose logs keep ``task_logs`` joins by adding its
name there. This module imports pytest: import it from tests only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, cast

import pytest

from aether.store.base import EventLog
from aether.store.task_logs import LoggedAttempt, Stream, TaskLogChunk, TaskLogStore
from aether.testing.adapters import ADAPTERS, EventLogFactory

# The event-log adapters (by their registered names) whose logs keep task logs.
TASK_LOG_ADAPTERS: list[str] = ["memory", "sqlite", "postgres"]

NOW_MS = 1_700_000_000_000
RUN = "run-1"


class TaskLogLog(Protocol):
    @property
    def task_logs(self) -> TaskLogStore: ...


def chunk(
    seq: int,
    data: bytes,
    *,
    stream: Stream = "stdout",
    node_id: str = "main/a",
    attempt: int = 1,
    run_id: str = RUN,
    at_ms: int | None = None,
) -> TaskLogChunk:
    return TaskLogChunk(run_id, node_id, attempt, seq, stream, NOW_MS + seq if at_ms is None else at_ms, data)


class TaskLogContract:
    """What every task log store promises. The ``task_log_database`` fixture opens a fresh
    database of each adapter in :data:`TASK_LOG_ADAPTERS`."""

    @pytest.fixture(params=TASK_LOG_ADAPTERS)
    def task_log_database(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLogFactory]:
        factory = EventLogFactory(ADAPTERS[request.param], tmp_path / "task-logs")
        try:
            yield factory
        finally:
            factory.close_all()

    @pytest.fixture
    def log(self, task_log_database: EventLogFactory) -> EventLog:
        return task_log_database.new()

    @pytest.fixture
    def store(self, log: EventLog) -> TaskLogStore:
        found = getattr(log, "task_logs", None)
        assert found is not None, f"the {type(log).__name__} keeps no task logs"
        return cast(TaskLogLog, log).task_logs

    def test_an_attempt_reads_back_in_seq_order(self, store: TaskLogStore) -> None:
        store.append([chunk(2, b"second\n", stream="stderr"), chunk(1, b"first\n")])
        store.append([chunk(3, b"third\n")])
        found = store.read(RUN, "main/a", 1)
        assert [(c.seq, c.stream, c.data) for c in found] == [
            (1, "stdout", b"first\n"),
            (2, "stderr", b"second\n"),
            (3, "stdout", b"third\n"),
        ]
        assert found[0] == chunk(1, b"first\n")

    def test_reading_after_a_seq_returns_only_newer_chunks(self, store: TaskLogStore) -> None:
        store.append([chunk(seq, f"{seq}\n".encode()) for seq in (1, 2, 5, 9)])
        assert [c.seq for c in store.read(RUN, "main/a", 1, after_seq=2)] == [5, 9]
        assert store.read(RUN, "main/a", 1, after_seq=9) == []

    def test_any_bytes_are_kept_as_written(self, store: TaskLogStore) -> None:
        raw = bytes(range(256)) + b"\xff\xfe not utf-8 \xc3"
        store.append([chunk(1, raw), chunk(2, b"\x00")])
        assert [c.data for c in store.read(RUN, "main/a", 1)] == [raw, b"\x00"]

    def test_attempts_are_listed_in_the_order_they_began_with_their_last_seq(self, store: TaskLogStore) -> None:
        store.append(
            [
                chunk(1, b"b1\n", node_id="main/b", at_ms=NOW_MS + 5),
                chunk(1, b"a1\n", node_id="main/a", at_ms=NOW_MS + 10),
                chunk(4, b"b1 later\n", node_id="main/b", at_ms=NOW_MS + 20),
                chunk(1, b"a2\n", node_id="main/a", attempt=2, at_ms=NOW_MS + 30),
            ]
        )
        assert store.attempts(RUN) == [
            LoggedAttempt("main/b", 1, NOW_MS + 5, 4),
            LoggedAttempt("main/a", 1, NOW_MS + 10, 1),
            LoggedAttempt("main/a", 2, NOW_MS + 30, 1),
        ]
        assert [(a.node_id, a.attempt) for a in store.attempts(RUN, "main/a")] == [("main/a", 1), ("main/a", 2)]
        assert store.attempts(RUN, "main/c") == []

    def test_attempts_and_runs_do_not_mix(self, store: TaskLogStore) -> None:
        store.append(
            [
                chunk(1, b"one\n"),
                chunk(1, b"retry\n", attempt=2),
                chunk(1, b"other run\n", run_id="run-2"),
            ]
        )
        assert [c.data for c in store.read(RUN, "main/a", 1)] == [b"one\n"]
        assert [c.data for c in store.read(RUN, "main/a", 2)] == [b"retry\n"]
        assert [c.data for c in store.read("run-2", "main/a", 1)] == [b"other run\n"]
        assert store.attempts("run-3") == []

    def test_appending_nothing_writes_nothing(self, store: TaskLogStore) -> None:
        store.append([])
        assert store.attempts(RUN) == []


__all__ = ["TASK_LOG_ADAPTERS", "TaskLogContract", "chunk"]
