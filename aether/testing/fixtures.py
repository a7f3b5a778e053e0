"""A pytest plugin: ``event_log_factory`` runs a test once per registered event-log adapter.

Load it from a top-level ``conftest.py``::

    pytest_plugins = ["aether.testing.fixtures"]

Fixtures:

- ``event_log_factory``: an :class:`~aether.testing.adapters.EventLogFactory`, once per
  adapter in :data:`~aether.testing.adapters.ADAPTERS` (test ids ``[memory]``, ``[sqlite]``, …);
- ``durable_event_log_factory``: the same, over the durable adapters only.

The adapters are read when tests are collected, so an adapter registered in a
``conftest.py`` takes part in every suite.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aether.testing.adapters import ADAPTERS, EventLogAdapter, EventLogFactory


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for fixture, durable_only in (("event_log_adapter", False), ("durable_event_log_adapter", True)):
        if fixture in metafunc.fixturenames:
            chosen = [adapter for adapter in ADAPTERS.values() if adapter.durable or not durable_only]
            metafunc.parametrize(fixture, chosen, ids=[adapter.name for adapter in chosen], indirect=True)


@pytest.fixture
def event_log_adapter(request: pytest.FixtureRequest) -> EventLogAdapter:
    adapter: EventLogAdapter = request.param
    return adapter


@pytest.fixture
def durable_event_log_adapter(request: pytest.FixtureRequest) -> EventLogAdapter:
    adapter: EventLogAdapter = request.param
    return adapter


@pytest.fixture
def event_log_factory(event_log_adapter: EventLogAdapter, tmp_path: Path) -> Iterator[EventLogFactory]:
    factory = EventLogFactory(event_log_adapter, tmp_path / "logs")
    yield factory
    factory.close_all()


@pytest.fixture
def durable_event_log_factory(durable_event_log_adapter: EventLogAdapter, tmp_path: Path) -> Iterator[EventLogFactory]:
    factory = EventLogFactory(durable_event_log_adapter, tmp_path / "durable-logs")
    yield factory
    factory.close_all()
