"""Pytest fixtures for tests that need a real PostgreSQL server.

``postgres_url`` gives each test a new, empty database of its own and drops it
afterwards, so tests (and xdist workers) never see each other's rows. The server is
the one ``AETHER_TEST_POSTGRES_URL`` names (``.ci/run`` starts it), or else one this
session starts in a temporary directory the first time a test (or the ``postgres``
event-log adapter, through :func:`server_url`) asks, and stops at the end. Without a
server and without the binaries to start one, those tests fail with a message that says
how to get one: they are never skipped.
"""

from __future__ import annotations

import atexit
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import postgres_cluster

_started_lock = threading.Lock()
_started: dict[str, str] = {}  # "url" and "directory" of the cluster this session started


def server_url() -> str:
    """The URL of a server database where the URL's user may create databases: the one
    the environment names, or a cluster started on the first call and stopped at exit.
    Raises :class:`postgres_cluster.ClusterUnavailable` when there is neither."""
    given = os.environ.get(postgres_cluster.URL_VARIABLE)
    if given:
        return given
    with _started_lock:
        if "url" not in _started:
            # Not under pytest's temporary directory: as root the server runs as another
            # user, who may not enter it.
            directory = Path(tempfile.mkdtemp(prefix="aether-postgres-"))
            try:
                url = postgres_cluster.start(directory)
                postgres_cluster.wait_until_accepting(url)
            except BaseException:
                postgres_cluster.stop(directory)
                raise
            _started.update(url=url, directory=str(directory))
            atexit.register(stop_server)
        return _started["url"]


def stop_server() -> None:
    """Stop the cluster :func:`server_url` started, if any (idempotent)."""
    with _started_lock:
        directory = _started.pop("directory", None)
        _started.pop("url", None)
    if directory is not None:
        postgres_cluster.stop(Path(directory))


def pytest_unconfigure(config: pytest.Config) -> None:
    # At the end of the session (of each xdist worker too), not only at interpreter exit:
    # a worker process may end without running atexit handlers.
    stop_server()


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The URL of a server database where the URL's user may create databases."""
    try:
        return server_url()
    except postgres_cluster.ClusterUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


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
