"""The shared adapter fixture: every test that takes ``adapter`` or ``log`` runs once per
``EventLog`` adapter. A new adapter (PostgreSQL) joins the whole suite by adding one
entry to ``ADAPTERS``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_support import Adapter, FakeClock

from aether.store import EventLog, InMemoryEventLog, SqliteEventLog


class MemoryAdapter(Adapter):
    durable = False

    def _create(self, clock: FakeClock) -> EventLog:
        return InMemoryEventLog(clock=clock)


class SqliteAdapter(Adapter):
    durable = True

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self._directory = directory
        self._paths: dict[int, Path] = {}

    def _create(self, clock: FakeClock) -> EventLog:
        path = self._directory / f"log-{len(self._paths)}.db"
        log = SqliteEventLog(path, clock=clock)
        self._paths[id(log)] = path
        return log

    def _reopen(self, log: EventLog, clock: FakeClock) -> EventLog:
        reopened = SqliteEventLog(self._paths[id(log)], clock=clock)
        self._paths[id(reopened)] = self._paths[id(log)]
        return reopened


ADAPTERS = {
    "memory": lambda tmp_path: MemoryAdapter(),
    "sqlite": lambda tmp_path: SqliteAdapter(tmp_path),
}


@pytest.fixture(params=sorted(ADAPTERS))
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Adapter]:
    harness: Adapter = ADAPTERS[request.param](tmp_path)
    yield harness
    harness.close_all()


DURABLE = {"sqlite"}  # adapters whose data outlives the log object


@pytest.fixture(params=sorted(DURABLE))
def durable_adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Adapter]:
    harness: Adapter = ADAPTERS[request.param](tmp_path)
    assert harness.durable
    yield harness
    harness.close_all()


@pytest.fixture
def log(adapter: Adapter) -> EventLog:
    return adapter.new()
