"""The waker idle workers and engines wait on with PostgreSQL (SPEC §15): a notification on
its channel wakes every waiting thread at once, one on another channel does not, one that
arrived while a thread was reading is not missed, and closing wakes everybody for good."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from aether.runtime.queue_broker import NotifiedWaker

pytestmark = pytest.mark.spec("15")

Callback = Callable[[str, str], None]


def subscribed() -> tuple[list[Callback], Callable[[Callback], None]]:
    callbacks: list[Callback] = []
    return callbacks, callbacks.append


def test_a_notification_on_its_channel_wakes_every_waiting_thread_at_once() -> None:
    callbacks, subscribe = subscribed()
    waker = NotifiedWaker(subscribe, "aether_tasks", fallback=30.0)
    woken: list[float] = []
    waiting = threading.Barrier(4)

    def wait() -> None:
        waiting.wait()
        started = time.monotonic()
        assert waker.wait(30.0)
        woken.append(time.monotonic() - started)

    threads = [threading.Thread(target=wait) for _ in range(3)]
    for thread in threads:
        thread.start()
    waiting.wait()
    time.sleep(0.2)  # every thread is inside wait()
    callbacks[0]("aether_reports", "")  # another channel: nobody wakes
    time.sleep(0.2)
    assert woken == []
    callbacks[0]("aether_tasks", "")
    for thread in threads:
        thread.join(5)
    assert len(woken) == 3 and max(woken) < 5


def test_a_notification_while_the_thread_was_reading_is_not_missed() -> None:
    callbacks, subscribe = subscribed()
    waker = NotifiedWaker(subscribe, "aether_tasks", fallback=30.0)
    assert not waker.wait(0.01)  # the thread's first wait: nothing yet
    callbacks[0]("aether_tasks", "")  # arrives while the thread reads the queue
    started = time.monotonic()
    assert waker.wait(30.0)
    assert time.monotonic() - started < 1


def test_without_notifications_it_still_returns_after_the_fallback() -> None:
    _callbacks, subscribe = subscribed()
    waker = NotifiedWaker(subscribe, "aether_tasks", fallback=0.05)
    started = time.monotonic()
    assert not waker.wait(30.0)
    assert time.monotonic() - started < 5


def test_closing_wakes_every_waiter_from_then_on_and_runs_the_close_action() -> None:
    closed: list[bool] = []
    _callbacks, subscribe = subscribed()
    waker = NotifiedWaker(subscribe, "aether_tasks", fallback=30.0, on_close=lambda: closed.append(True))
    waker.wake()
    assert closed == [True]
    started = time.monotonic()
    assert waker.wait(30.0) and waker.wait(30.0)
    assert time.monotonic() - started < 1
