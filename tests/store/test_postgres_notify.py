"""A ``Listener`` wakes when the PostgreSQL log commits an append, not when an append fails,
and comes back after its connection is lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import pytest

from aether.store import NO_STREAM, ConcurrencyConflict, StoreError
from aether.store.postgres import EVENTS_CHANNEL, PostgresEventLog
from aether.store.postgres_notify import Listener
from aether.testing.log_checks import event, events

pytestmark = pytest.mark.spec("15")

WAKE_SECONDS = 10.0  # a generous bound on a notification's delivery
QUIET_SECONDS = 0.5  # how long silence must last to count as no notification


class Received:
    """What a listener's callback was called with, with a way to wait for a given count."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._changed = threading.Condition()

    def __call__(self, channel: str, payload: str) -> None:
        with self._changed:
            self.calls.append((channel, payload))
            self._changed.notify_all()

    def wait_for(self, count: int) -> list[tuple[str, str]]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.calls) >= count, timeout=WAKE_SECONDS), self.calls
            return list(self.calls)


def listening_pids(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        ).fetchall()
    return [pid for (pid,) in rows]


def eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAKE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


def test_an_append_wakes_the_listener_with_the_last_position(postgres_url: str) -> None:
    with PostgresEventLog(postgres_url) as log, Listener(postgres_url, [EVENTS_CHANNEL]) as listener:
        received = Received()
        listener.add_callback(received)
        assert listener.wait(QUIET_SECONDS) is False
        log.append("a", events("a", 3), NO_STREAM)
        assert listener.wait(WAKE_SECONDS) is True
        log.append_batch([("a", [event("a", 3)], 3), ("b", events("b", 2), NO_STREAM)])
        assert received.wait_for(2) == [(EVENTS_CHANNEL, "3"), (EVENTS_CHANNEL, "6")]
        # Both arrived before this wait: they wake it once, then it waits again.
        assert listener.wait(WAKE_SECONDS) is True
        assert listener.wait(QUIET_SECONDS) is False


def test_an_append_that_writes_nothing_notifies_no_one(postgres_url: str) -> None:
    with PostgresEventLog(postgres_url) as log, Listener(postgres_url, [EVENTS_CHANNEL]) as listener:
        log.append("a", [event("a")], NO_STREAM)
        assert listener.wait(WAKE_SECONDS) is True
        with pytest.raises(ConcurrencyConflict):
            log.append_batch([("b", [event("b")], NO_STREAM), ("a", [event("a", 1)], NO_STREAM)])
        assert log.append("a", [], 1) == 1
        assert listener.wait(QUIET_SECONDS) is False


def test_a_listener_hears_only_its_channels(postgres_url: str) -> None:
    with Listener(postgres_url, ["aether_tasks", "aether reports"]) as listener:
        received = Received()
        listener.add_callback(received)
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("SELECT pg_notify('elsewhere', 'x')")
            conn.execute("SELECT pg_notify('aether reports', 'r-1')")
            conn.execute("SELECT pg_notify('aether_tasks', '')")
        assert received.wait_for(2) == [("aether reports", "r-1"), ("aether_tasks", "")]


def test_a_listener_reconnects_after_losing_its_connection_and_wakes_its_callers(postgres_url: str) -> None:
    with PostgresEventLog(postgres_url) as log, Listener(postgres_url, [EVENTS_CHANNEL]) as listener:
        received = Received()
        listener.add_callback(received)
        (first_pid,) = listening_pids(postgres_url)
        with psycopg.connect(postgres_url) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first_pid,))
        # The wake-up on reconnection: whatever was sent meanwhile may have been missed.
        assert received.wait_for(1) == [(EVENTS_CHANNEL, "")]
        assert listener.wait(WAKE_SECONDS) is True
        eventually(lambda: len(listening_pids(postgres_url)) == 1)
        assert listening_pids(postgres_url) != [first_pid]
        log.append("a", [event("a")], NO_STREAM)
        assert received.wait_for(2)[1] == (EVENTS_CHANNEL, "1")


def test_close_stops_listening(postgres_url: str) -> None:
    listener = Listener(postgres_url, [EVENTS_CHANNEL])
    assert len(listening_pids(postgres_url)) == 1
    assert "listening" in repr(listener)
    listener.close()
    listener.close()  # idempotent
    assert "closed" in repr(listener)
    eventually(lambda: listening_pids(postgres_url) == [])


def test_a_listener_that_cannot_connect_is_a_store_error_without_the_password(postgres_url: str) -> None:
    base, _, _ = postgres_url.rpartition("/")
    url = f"{base}/no_such_database".replace("://aether@", "://aether:hunter2@")
    with pytest.raises(StoreError) as caught:
        Listener(url, [EVENTS_CHANNEL])
    assert "no_such_database" in str(caught.value) and "hunter2" not in str(caught.value)
    with pytest.raises(ValueError):
        Listener(postgres_url, [])
