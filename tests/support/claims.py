"""Claiming as one of an engine's worker threads does, in a test that drives the engine
by hand: the claim waits for the engine to record it, so the engine is pumped meanwhile."""

from __future__ import annotations

import contextlib
import threading

from aether.events.assignment import TaskAssignment
from aether.runtime.engine import Engine
from aether.store.coordination import Fenced


def claim_as_worker(engine: Engine, assignment: TaskAssignment, worker_id: str, timeout: float = 10.0) -> bool:
    """What a worker thread of ``engine`` does before it executes ``assignment``: claim it
    (with its start, when the engine records the two together). True when granted."""
    answers: list[bool] = []
    errors: list[BaseException] = []

    def claim() -> None:
        try:
            answers.append(engine._claim(assignment, worker_id))
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    worker = threading.Thread(target=claim, name=f"test-claim-{worker_id}")
    worker.start()
    give_up = threading.Event()
    timer = threading.Timer(timeout, give_up.set)
    timer.start()
    try:
        while worker.is_alive() and not give_up.is_set():
            with contextlib.suppress(Fenced):  # the engine's loop takes it the same way: fenced, it stops
                engine.pump()
            worker.join(0.005)
    finally:
        timer.cancel()
    if worker.is_alive():
        raise AssertionError(f"the claim of {assignment.id} was not answered in {timeout} s")
    if errors:
        raise errors[0]
    return answers[0]
