"""The in-memory ``EventLog``: the reference semantics, used by tests and conformance runs.

Nothing survives the process. Everything else of the contract holds: appends are atomic,
versions contiguous, positions strictly increasing in commit order, and every method is
safe to call from several threads (one lock serializes writers and snapshots readers).

:func:`plan_appends` is the one place that decides what a batch of append requests
means (expected-version checks, a stream named twice in one batch). Every adapter calls
it inside its own write transaction, so the adapters cannot drift apart on those rules.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from attrs import frozen

from aether.store.base import (
    ANY_VERSION,
    AppendRequest,
    ConcurrencyConflict,
    PendingEvent,
    StoredEvent,
    StoreError,
)
from aether.store.coordination import Claim
from aether.store.memory_coordination import InMemoryCoordination
from aether.store.task_logs import InMemoryTaskLogs


@frozen
class PlannedAppend:
    """One request of a batch after its expected version was checked.

    ``first_version`` is the version its first event gets; ``new_version`` is the
    stream's version once the request is applied (equal to ``first_version - 1`` when
    ``events`` is empty).
    """

    stream: str
    first_version: int
    events: Sequence[PendingEvent]

    @property
    def new_version(self) -> int:
        return self.first_version - 1 + len(self.events)


def plan_appends(
    requests: Sequence[AppendRequest], current_version: Callable[[str], int]
) -> tuple[list[PlannedAppend], dict[str, int]]:
    """Check every request's expected version and number its events; write nothing.

    ``current_version`` reads a stream's committed version (the caller holds whatever
    lock makes that read part of its write transaction). A request naming a stream an
    earlier request of the batch already touched is checked against the version those
    earlier events produce. Raises :class:`ConcurrencyConflict` at the first mismatch,
    so the caller can abandon the whole batch; raises ``ValueError`` on a malformed
    request. Returns the plan in request order and each touched stream's final version.
    """
    plans: list[PlannedAppend] = []
    versions: dict[str, int] = {}
    for stream, events, expected in requests:
        _check_request(stream, events, expected)
        actual = versions.get(stream)
        if actual is None:
            actual = current_version(stream)
        if expected != ANY_VERSION and expected != actual:
            raise ConcurrencyConflict(stream, expected, actual)
        plans.append(PlannedAppend(stream, actual + 1, events))
        versions[stream] = actual + len(events)
    return plans, versions


def _check_request(stream: object, events: object, expected: object) -> None:
    # Cheap type checks: a str payload would round-trip through SQLite as TEXT and come
    # back as str, and a bool expected version would silently mean 0 or 1.
    if not isinstance(stream, str) or not stream:
        raise ValueError(f"stream must be a non-empty string, not {stream!r}")
    if not isinstance(expected, int) or isinstance(expected, bool) or expected < ANY_VERSION:
        raise ValueError(f"expected_version must be an int >= {ANY_VERSION}, not {expected!r}")
    if not isinstance(events, Sequence):
        raise ValueError(f"events must be a sequence of PendingEvent, not {type(events).__name__}")
    for event in events:
        if not isinstance(event, PendingEvent) or not isinstance(event.data, bytes):
            raise ValueError(f"events must be PendingEvent with bytes data, not {event!r}")


class InMemoryEventLog:
    """An ``EventLog`` held in process memory."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._closed = False
        # position p is _all[p - 1]; version v of a stream is _streams[stream][v - 1].
        self._all: list[StoredEvent] = []
        self._streams: dict[str, list[StoredEvent]] = {}
        # Kept sorted as streams appear, so streams(prefix) is a bisect, not a sort.
        self._names: list[str] = []
        self._coordination = InMemoryCoordination(self._lock)
        self._task_logs = InMemoryTaskLogs()

    @property
    def coordination(self) -> InMemoryCoordination:
        """Members, run leases and claims, under this log's lock."""
        return self._coordination

    @property
    def task_logs(self) -> InMemoryTaskLogs:
        """What tasks wrote to stdout and stderr, by attempt, in memory like the log."""
        return self._task_logs

    def append(self, stream: str, events: Sequence[PendingEvent], expected_version: int) -> int:
        return self.append_batch([(stream, events, expected_version)])[0]

    def append_batch(
        self, requests: Sequence[AppendRequest], *, fence: str | None = None, claims: Sequence[Claim] = ()
    ) -> list[int]:
        with self._lock:
            self._check_open()
            if fence is not None:
                self._coordination.check_fence_locked(fence)
            plans, _ = plan_appends(requests, self._version_locked)
            if claims:  # last of the checks: claiming is the first write
                self._coordination.claim_all_locked(claims)
            recorded_at = self._clock()
            for plan in plans:
                if not plan.events:
                    continue
                history = self._streams.get(plan.stream)
                if history is None:
                    history = self._streams[plan.stream] = []
                    bisect.insort(self._names, plan.stream)
                for offset, event in enumerate(plan.events):
                    stored = StoredEvent(
                        stream=plan.stream,
                        version=plan.first_version + offset,
                        position=len(self._all) + 1,
                        type=event.type,
                        schema_version=event.schema_version,
                        data=event.data,
                        recorded_at=recorded_at,
                    )
                    history.append(stored)
                    self._all.append(stored)
            return [plan.new_version for plan in plans]

    def read(self, stream: str, from_version: int = 1, to_version: int | None = None) -> Iterator[StoredEvent]:
        with self._lock:
            self._check_open()
            history = self._streams.get(stream, [])
            start = max(from_version, 1) - 1
            stop = len(history) if to_version is None else max(min(to_version, len(history)), start)
            # A copy: the caller may iterate while other threads append.
            return iter(history[start:stop])

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, not {limit}")
        with self._lock:
            self._check_open()
            start = max(after_position, 0)
            return self._all[start : start + limit]

    def stream_version(self, stream: str) -> int:
        with self._lock:
            self._check_open()
            return self._version_locked(stream)

    def streams(self, prefix: str = "") -> Iterator[str]:
        with self._lock:
            self._check_open()
            start = bisect.bisect_left(self._names, prefix)
            matching: list[str] = []
            for name in self._names[start:]:
                if not name.startswith(prefix):
                    break
                matching.append(name)
            return iter(matching)

    def last_position(self) -> int:
        with self._lock:
            self._check_open()
            return len(self._all)

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def __enter__(self) -> InMemoryEventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _version_locked(self, stream: str) -> int:
        return len(self._streams.get(stream, ()))

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the event log is closed")
