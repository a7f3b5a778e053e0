"""Pytest fixtures for tests that need a real PostgreSQL server.

``postgres_url`` gives each test a new, empty database of its own and drops it
afterwards, so tests (and xdist workers) never see each other's rows. The server is
the one ``AETHER_TEST_POSTGRES_URL`` names (``.ci/run`` starts it), or else one this
session starts in a temporary directory the first time a test asks, and stops at the
end. Without a server and without the binaries to start one, those tests fail with a
message that says how to get one: they are never skipped.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import postgres_cluster


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """The URL of a server database where the URL's user may create databases."""
    given = os.environ.get(postgres_cluster.URL_VARIABLE)
    if given:
        yield given
        return
    # Not under pytest's temporary directory: as root the server runs as another user,
    # who may not enter it.
    directory = Path(tempfile.mkdtemp(prefix="aether-postgres-"))
    try:
        url = postgres_cluster.start(directory)
        postgres_cluster.wait_until_accepting(url)
    except postgres_cluster.ClusterUnavailable as exc:
        postgres_cluster.stop(directory)
        pytest.fail(str(exc), pytrace=False)
    try:
        yield url
    finally:
        postgres_cluster.stop(directory)


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    import psycopg

    name = f"aether_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_server_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
