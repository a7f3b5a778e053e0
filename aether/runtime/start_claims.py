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
        self._lock = threading.Lock()

    def answer(self, granted: bool) -> None:
        """True: the claim and the start are recorded; False: the attempt must not run."""
        with self._lock:
            if not self._answered.is_set():
                self._granted = granted
                self._answered.set()

    @property
    def answered(self) -> bool:
        return self._answered.is_set()

    def wait(self) -> bool:
        """The engine's answer. It always comes: a round that cannot be recorded keeps the
        start for the next, and an engine that stops, or a broker that closes, answers
        False. (Giving up earlier would be unsafe: a start recorded after its worker gave
        up would name an attempt nobody runs.)"""
        self._answered.wait()
        return self._granted


__all__ = ["StartClaim"]
