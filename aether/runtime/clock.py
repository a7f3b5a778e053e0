"""Clocks: the only source of time for the shell (SPEC §15 ``Clock``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock tests move by hand. Listeners run after every move, so an engine can fire
    the timers that became due, in order."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, t: datetime) -> None:
        with self._lock:
            if t.tzinfo is None:
                t = t.replace(tzinfo=UTC)
            self._now = t
        for listener in list(self._listeners):
            listener()

    def advance(self, delta: timedelta | float) -> None:
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        self.set(self.now() + delta)

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)
