"""Shared test configuration: hypothesis profiles, chosen with ``HYPOTHESIS_PROFILE``.

- ``dev`` (the default, for local runs): 100 examples per property, random like any
  hypothesis run, with the example database in ``.hypothesis/`` replaying past failures.
- ``ci`` (``.ci/run`` sets it): 25 examples, keeping the suite inside CI's time budget on a
  2-core machine, and reproducible: ``derandomize`` draws the same examples on every run
  of the same code (no example database, so nothing from earlier runs leaks in), and a
  failure prints its ``@reproduce_failure`` blob. A red CI run is red again locally with
  ``HYPOTHESIS_PROFILE=ci``.
- ``thorough``: 2,000 examples per property, for hunting bugs.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from aether.testing.adapters import PostgresAdapter, register_adapter

# ``event_log_factory``: the store, conformance and projection suites run on every
# registered event-log adapter (aether/testing/adapters.py), PostgreSQL included: on the
# session's server, started when a test first opens a PostgreSQL log.
pytest_plugins = ["aether.testing.fixtures", "support.postgres_fixtures", "support.read_model_databases"]


def _postgres_server_url() -> str:
    # Imported here: pytest_plugins loads the module itself (with assertion rewriting).
    from support.postgres_fixtures import server_url

    return server_url()


POSTGRES_ADAPTER = register_adapter(PostgresAdapter(_postgres_server_url))


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Databases of a test that could not close its factory; before the server stops.
    POSTGRES_ADAPTER.discard_all()


settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
    print_blob=True,
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
