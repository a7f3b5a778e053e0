"""The ``TaskLogStore`` contract (SPEC §14.3: a task's captured streams; §14.1 worker
rules), shipped in ``aether.testing.task_log_contract``, run against every adapter whose
logs keep task logs: memory, SQLite and PostgreSQL; and what only the databases do: keep
the logs for other connections and processes, and notify readers on PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from aether.store.postgres import PostgresEventLog
from aether.store.postgres_notify import Listener
from aether.store.postgres_task_logs import LOGS_CHANNEL
from aether.store.sqlite import SqliteEventLog
from aether.testing.task_log_contract import RUN, TaskLogContract, chunk

pytestmark = pytest.mark.spec("14.3", "14.1")


class TestTaskLogAdapters(TaskLogContract):
    pass


def test_a_sqlite_file_keeps_the_logs_for_another_connection(tmp_path: Path) -> None:
    writer = SqliteEventLog(tmp_path / "aether.db")
    reader = SqliteEventLog(tmp_path / "aether.db")
    try:
        writer.task_logs.append([chunk(1, b"from a worker\n")])
        assert [c.data for c in reader.task_logs.read(RUN, "main/a", 1)] == [b"from a worker\n"]
    finally:
        writer.close()
        reader.close()


def test_postgres_keeps_the_logs_and_notifies_followers_with_the_run_id(postgres_url: str) -> None:
    writer = PostgresEventLog(postgres_url)
    reader = PostgresEventLog(postgres_url)
    payloads: list[str] = []
    notified = threading.Event()

    def heard(channel: str, payload: str) -> None:
        payloads.append(payload)
        notified.set()

    try:
        with Listener(postgres_url, [LOGS_CHANNEL]) as listener:
            listener.add_callback(heard)
            writer.task_logs.append([chunk(1, b"from another machine\n")])
            assert notified.wait(10), "no notification on aether_logs"
        assert payloads == [RUN]
        assert [c.data for c in reader.task_logs.read(RUN, "main/a", 1)] == [b"from another machine\n"]
    finally:
        writer.close()
        reader.close()
