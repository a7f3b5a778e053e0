"""Where an executor writes a task's output while the task runs (SPEC §14.3): the worker
hands every attempt a sink through ``ExecContext.task_log``, and the runtime stores what it
receives as the attempt's log (``aether.runtime.task_logs``), beside the event log."""

from __future__ import annotations

from typing import Protocol

from aether.store.task_logs import Stream


class TaskLogSink(Protocol):
    def write(self, stream: Stream, data: bytes) -> None:
        """Record ``data`` as the next output of ``stream``: any bytes, whole lines or not.
        Never raises and never blocks for long: executors call it from the threads that
        drain a child's pipes."""
        ...


class DiscardingSink:
    """The sink of an attempt whose output is kept nowhere."""

    def write(self, stream: Stream, data: bytes) -> None:
        return


DISCARD = DiscardingSink()
