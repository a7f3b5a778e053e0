"""Task logs: what every attempt of a task wrote to stdout and stderr, and the messages the
runtime or an executor added, kept beside the event log in the same database but never in
events (they are not facts the engine decides on, and they can be large).

A worker appends chunks in batches from one writer thread per process
(``aether.runtime.task_logs``). ``seq`` orders the chunks of one attempt, both streams
together, so that stdout and stderr interleave as they were read; an attempt runs in one
process, whose writer commits its chunks in order, so a reader that remembers the last
``seq`` it saw of each attempt (``--follow``) never misses one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Literal, Protocol

from attrs import frozen

Stream = Literal["stdout", "stderr", "message"]
STREAMS: tuple[Stream, ...] = ("stdout", "stderr", "message")


@frozen
class TaskLogChunk:
    run_id: str
    node_id: str
    attempt: int
    seq: int  # order within the attempt, from 1; gaps are allowed
    stream: Stream
    at_ms: int  # when the worker read it
    data: bytes  # as the task wrote it: not necessarily whole lines, nor valid UTF-8


@frozen
class LoggedAttempt:
    node_id: str
    attempt: int
    first_ms: int  # when its first chunk was read
    last_seq: int


class TaskLogStore(Protocol):
    def append(self, chunks: Sequence[TaskLogChunk]) -> None:
        """Store ``chunks`` in one transaction."""
        ...

    def attempts(self, run_id: str, node_id: str | None = None) -> list[LoggedAttempt]:
        """The attempts of the run (of ``node_id`` only, if given) that logged anything,
        in the order they began logging."""
        ...

    def read(self, run_id: str, node_id: str, attempt: int, after_seq: int = 0) -> list[TaskLogChunk]:
        """The attempt's chunks whose ``seq`` is above ``after_seq``, in ``seq`` order."""
        ...


class InMemoryTaskLogs:
    """Task logs in process memory, beside an in-memory event log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: dict[str, dict[tuple[str, int], list[TaskLogChunk]]] = {}

    def append(self, chunks: Sequence[TaskLogChunk]) -> None:
        with self._lock:
            for chunk in chunks:
                runs = self._chunks.setdefault(chunk.run_id, {})
                runs.setdefault((chunk.node_id, chunk.attempt), []).append(chunk)

    def attempts(self, run_id: str, node_id: str | None = None) -> list[LoggedAttempt]:
        with self._lock:
            found = [
                LoggedAttempt(node, attempt, min(c.at_ms for c in chunks), max(c.seq for c in chunks))
                for (node, attempt), chunks in self._chunks.get(run_id, {}).items()
                if node_id is None or node == node_id
            ]
        return sorted(found, key=lambda a: (a.first_ms, a.node_id, a.attempt))

    def read(self, run_id: str, node_id: str, attempt: int, after_seq: int = 0) -> list[TaskLogChunk]:
        with self._lock:
            chunks = list(self._chunks.get(run_id, {}).get((node_id, attempt), ()))
        return sorted((c for c in chunks if c.seq > after_seq), key=lambda c: c.seq)


__all__ = ["STREAMS", "InMemoryTaskLogs", "LoggedAttempt", "Stream", "TaskLogChunk", "TaskLogStore"]
