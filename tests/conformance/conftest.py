from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aether.store.base import EventLog
from aether.store.memory import InMemoryEventLog
from aether.store.sqlite import SqliteEventLog


@pytest.fixture(params=["memory", "sqlite"])
def event_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLog]:
    log: EventLog = InMemoryEventLog() if request.param == "memory" else SqliteEventLog(tmp_path / "aether.db")
    yield log
    log.close()
