"""Task logs on the worker side: every attempt's output, streamed to the database while the
task runs (``aether.store.task_logs``).

An :class:`AttemptLog` is the sink one attempt writes to. It keeps the attempt within
``L-LOG``: the first half of the limit is stored as it comes; past it, only the newest
half is kept, in memory, and stored when the attempt ends, after a message saying how many
bytes were cut between the two. A :class:`TaskLogWriter` stores what every attempt of the
process wrote from one thread that commits whatever has gathered in one transaction (group
commit, like the reports of ``aether.runtime.queue_broker``): a task never waits for the
database to print a line, and a worker on another machine ships its logs the same way.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from typing import Protocol

import attrs

from aether.events.assignment import TaskAssignment
from aether.model.limits import DEFAULT_LIMITS
from aether.store.task_logs import Stream, TaskLogChunk, TaskLogStore

_log = logging.getLogger(__name__)

CUT_MARKER = "…[{} bytes of output cut]…\n"
REDACTED = b"<redacted>"
MIN_REDACTED_LENGTH = 4  # as for results (aether.runtime.worker)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class _Chunks(Protocol):
    def put(self, chunk: TaskLogChunk) -> int: ...


class AttemptLog:
    """The output of one attempt, kept within ``limit`` bytes (see the module docstring).
    Both streams may write at once, from the threads that drain a child's pipes."""

    def __init__(
        self,
        chunks: _Chunks,
        assignment: TaskAssignment,
        limit: int = DEFAULT_LIMITS.log_bytes,
        now_ms: Callable[[], int] = wall_ms,
    ) -> None:
        self._chunks = chunks
        self._run_id = assignment.run_id
        self._node_id = assignment.node_id
        self._attempt = assignment.attempt
        self._now_ms = now_ms
        self._head_room = limit // 2
        self._tail_room = limit - self._head_room
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._total = 0
        self._stored = 0
        self._tail: deque[tuple[Stream, bytes, int]] = deque()
        self._tail_bytes = 0
        self._secrets: list[bytes] = []
        self._last_ticket = 0
        self._closed = False

    def hide(self, secret_values: Collection[str]) -> None:
        """Replace these values with ``<redacted>`` in what is stored from now on (a value
        split between two reads of a pipe escapes this)."""
        found = {s.encode() for s in secret_values if len(s) >= MIN_REDACTED_LENGTH}
        with self._lock:
            self._secrets = sorted(found | set(self._secrets), key=len, reverse=True)

    def write(self, stream: Stream, data: bytes) -> None:
        if not data:
            return
        at = self._now_ms()
        with self._lock:
            if self._closed:
                return
            for secret in self._secrets:
                data = data.replace(secret, REDACTED)
            self._total += len(data)
            room = self._head_room - self._stored
            if room > 0:
                head, data = data[:room], data[room:]
                self._stored += len(head)
                self._store(stream, head, at)
            if data:
                self._keep_tail(stream, data, at)

    def message(self, text: str) -> None:
        """A line of the runtime's or the executor's own, stored among the output."""
        self.write("message", text.encode() if text.endswith("\n") else (text + "\n").encode())

    def close(self) -> int:
        """The attempt is over: store the kept tail (after the cut marker, if anything was
        cut). Returns the writer's ticket of its last chunk (0: it wrote nothing)."""
        with self._lock:
            if self._closed:
                return self._last_ticket
            self._closed = True
            cut = self._total - self._stored - self._tail_bytes
            if cut > 0:
                self._store("message", CUT_MARKER.format(cut).encode(), self._now_ms())
            for stream, data, at in self._tail:
                self._store(stream, data, at)
            self._tail.clear()
            return self._last_ticket

    def _store(self, stream: Stream, data: bytes, at: int) -> None:
        chunk = TaskLogChunk(self._run_id, self._node_id, self._attempt, next(self._seq), stream, at, data)
        self._last_ticket = self._chunks.put(chunk)

    def _keep_tail(self, stream: Stream, data: bytes, at: int) -> None:
        self._tail.append((stream, data, at))
        self._tail_bytes += len(data)
        while self._tail_bytes > self._tail_room:
            first_stream, first, first_at = self._tail.popleft()
            excess = self._tail_bytes - self._tail_room
            if len(first) > excess:
                self._tail.appendleft((first_stream, first[excess:], first_at))
                self._tail_bytes -= excess
            else:
                self._tail_bytes -= len(first)


class TaskLogWriter:
    """Stores the chunks of every attempt of this process from one thread (started with
    the first chunk), in batches. A store that keeps failing loses chunks, never a task:
    a batch is retried a few times, then dropped with an error in the process's log, and
    at most ``max_pending_bytes`` wait in memory meanwhile."""

    RETRIES = 5
    MERGED_CHUNK_BYTES = 256 * 1024

    def __init__(self, store: TaskLogStore, *, max_pending_bytes: int = 64 * 1024 * 1024) -> None:
        self._store = store
        self._max_pending = max_pending_bytes
        self._changed = threading.Condition()
        self._pending: list[tuple[int, TaskLogChunk]] = []
        self._pending_bytes = 0
        self._issued = 0  # the ticket of the newest chunk handed over
        self._done = 0  # every ticket up to this one is stored or given up
        self._dropped = 0
        self._closed = False
        self._thread: threading.Thread | None = None

    @property
    def closed(self) -> bool:
        with self._changed:
            return self._closed

    def attempt(self, assignment: TaskAssignment, limit: int = DEFAULT_LIMITS.log_bytes) -> AttemptLog:
        return AttemptLog(self, assignment, limit)

    def put(self, chunk: TaskLogChunk) -> int:
        with self._changed:
            if self._closed or self._pending_bytes + len(chunk.data) > self._max_pending:
                self._dropped += 1
                if self._dropped == 1 or self._dropped % 1000 == 0:
                    _log.error("task log chunks dropped: the database falls behind (%d so far)", self._dropped)
                return self._issued  # nothing new to wait for
            self._issued += 1
            self._pending.append((self._issued, chunk))
            self._pending_bytes += len(chunk.data)
            self._changed.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="aether-task-logs", daemon=True)
                self._thread.start()
            return self._issued

    def wait_stored(self, ticket: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until the chunk of ``ticket`` (and every earlier
        one) is stored or given up; True if it is."""
        with self._changed:
            return self._changed.wait_for(lambda: self._done >= ticket or self._thread is None, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Store what is pending (for up to ``timeout`` seconds) and stop the thread."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._pending) or self._closed)
                if not self._pending:
                    self._thread = None
                    self._changed.notify_all()
                    return
                batch, self._pending, self._pending_bytes = self._pending, [], 0
            self._write(merged([chunk for _ticket, chunk in batch], self.MERGED_CHUNK_BYTES))
            with self._changed:
                self._done = batch[-1][0]
                self._changed.notify_all()

    def _write(self, chunks: list[TaskLogChunk]) -> None:
        for failures in range(1, self.RETRIES + 1):
            try:
                self._store.append(chunks)
                return
            except Exception:
                _log.exception("writing %d task log chunks failed (%d times in a row)", len(chunks), failures)
                time.sleep(min(0.1 * failures, 1.0))
        _log.error("%d task log chunks were given up", len(chunks))


def merged(chunks: list[TaskLogChunk], max_bytes: int) -> list[TaskLogChunk]:
    """Fewer rows for the same output: a chunk that directly follows the previous chunk of
    its attempt, on the same stream, joins it (up to ``max_bytes``). Order within every
    attempt is kept; the merged chunk keeps the first one's ``seq`` and time."""
    firsts: list[TaskLogChunk] = []
    parts: list[list[bytes]] = []
    sizes: list[int] = []
    last: dict[tuple[str, str, int], tuple[int, int]] = {}  # attempt -> (its newest row, seq it ends at)
    for chunk in chunks:
        key = (chunk.run_id, chunk.node_id, chunk.attempt)
        found = last.get(key)
        if found is not None:
            row, end_seq = found
            if (
                end_seq + 1 == chunk.seq
                and firsts[row].stream == chunk.stream
                and sizes[row] + len(chunk.data) <= max_bytes
            ):
                parts[row].append(chunk.data)
                sizes[row] += len(chunk.data)
                last[key] = (row, chunk.seq)
                continue
        firsts.append(chunk)
        parts.append([chunk.data])
        sizes.append(len(chunk.data))
        last[key] = (len(firsts) - 1, chunk.seq)
    return [
        first if len(data) == 1 else attrs.evolve(first, data=b"".join(data))
        for first, data in zip(firsts, parts, strict=True)
    ]


__all__ = ["CUT_MARKER", "AttemptLog", "TaskLogWriter", "merged", "wall_ms"]
