"""Every conformance example runs on every registered event-log adapter (``event_log_factory``,
aether/testing/fixtures.py)."""

from __future__ import annotations

import pytest

from aether.store.base import EventLog
from aether.testing.adapters import EventLogFactory


@pytest.fixture
def event_log(event_log_factory: EventLogFactory) -> EventLog:
    return event_log_factory.new()
