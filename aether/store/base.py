"""The ``EventLog`` interface (SPEC §15, ARCHITECTURE layer 8).

A log holds named streams (``run:<runId>``, ``cron:<namespace>/<name>``, …). Each
stream's versions are contiguous from 1; ``position`` is a global sequence that
strictly increases across all streams in commit order. Appends are atomic: all the
events of one call (or of one ``append_batch`` across streams) are durable, or none.

Payloads are opaque bytes to the store (the events layer encodes them), so a store
never parses an event and never sees a secret value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from aether.events.records import PendingEvent, StoredEvent
from aether.store.coordination import Claim

# Marks an append that must create the stream: nothing may exist before it.
NO_STREAM = 0
# Marks an append that skips the optimistic-concurrency check.
ANY_VERSION = -1


class ConcurrencyConflict(Exception):
    """The stream was not at the expected version; nothing was written."""

    def __init__(self, stream: str, expected: int, actual: int) -> None:
        self.stream = stream
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stream {stream!r} is at version {actual}, expected {expected}: another writer got there first"
        )


class StoreError(Exception):
    """The store cannot do what was asked (unreadable file, newer schema, closed log)."""


AppendRequest = tuple[str, Sequence[PendingEvent], int]


@runtime_checkable
class EventLog(Protocol):
    def append(self, stream: str, events: Sequence[PendingEvent], expected_version: int) -> int:
        """Append to one stream; return the stream's new version.

        ``expected_version`` is the version the caller last saw (``NO_STREAM`` for a new
        stream, ``ANY_VERSION`` to skip the check). A mismatch raises
        :class:`ConcurrencyConflict` and writes nothing. An empty ``events`` writes
        nothing and returns the current version (the expected version is still checked).
        """
        ...

    def append_batch(
        self, requests: Sequence[AppendRequest], *, fence: str | None = None, claims: Sequence[Claim] = ()
    ) -> list[int]:
        """Append to several streams in one transaction (group commit); all or nothing.

        Returns the new version of each request's stream, in request order. A
        request may name a stream an earlier request of the same batch touched; its
        expected version then counts those events. With a ``fence`` (a member id, see
        :mod:`aether.store.coordination`), the batch is written only if that member is
        still registered, checked in the same transaction; otherwise
        :class:`~aether.store.coordination.Fenced` is raised and nothing is written.
        ``claims`` are written in the same transaction (each claiming member must be
        registered, as for a fence): when any of them was claimed before,
        :class:`~aether.store.coordination.ClaimsRefused` names them and nothing is
        written, so that a start is recorded exactly when its claim is.
        """
        ...

    def read(self, stream: str, from_version: int = 1, to_version: int | None = None) -> Iterator[StoredEvent]:
        """The stream's events with ``from_version <= version <= to_version``, in order.

        ``to_version=None`` means the stream's version when ``read`` is called; events
        appended while the caller iterates are not included.
        """
        ...

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Up to ``limit`` events of every stream with ``position > after_position``, in position order."""
        ...

    def stream_version(self, stream: str) -> int:
        """The stream's current version; 0 if it has no events."""
        ...

    def streams(self, prefix: str = "") -> Iterator[str]:
        """Names of streams that have events and start with ``prefix``, sorted."""
        ...

    def last_position(self) -> int:
        """The highest position in the log; 0 if empty."""
        ...

    def close(self) -> None: ...
