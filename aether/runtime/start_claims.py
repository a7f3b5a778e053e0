"""A start that waits for its claim: how an engine's own worker threads claim attempts.

A worker thread of the engine's process hands its start to the engine (through the local
broker) and waits. The engine writes the claim in the transaction that records the start,
together with everything else it decided in that round, and then answers. Claiming thus
costs no transaction of its own, and a start is recorded exactly when its claim is
(ARCHITECTURE rule 6): the worker runs the attempt only once both are durable.
"""

from __future__ import annotations

import threading

from aether.events.assignment import TaskStartReport


class StartClaim:
    """One worker's start, waiting for the engine's answer. The first answer counts."""

    def __init__(self, report: TaskStartReport) -> None:
        self.report = report
        self._answered = threading.Event()
        self._granted = False
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def answer(self, granted: bool) -> None:
        """True: the claim and the start are recorded; False: the attempt must not run."""
        with self._lock:
            if self._answered.is_set():
                return
            self._granted = granted
            self._answered.set()

    def fail(self, error: BaseException) -> None:
        """The engine could not record the claim (the worker may try again)."""
        with self._lock:
            if self._answered.is_set():
                return
            self._error = error
            self._answered.set()

    def wait(self, timeout: float) -> bool:
        """The engine's answer; raises what it failed with, or :class:`TimeoutError`
        when it has not answered within ``timeout`` seconds."""
        if not self._answered.wait(timeout):
            raise TimeoutError(f"the engine did not record the start of {self.report.assignment_id} in {timeout:g} s")
        if self._error is not None:
            raise self._error
        return self._granted


__all__ = ["StartClaim"]
