"""One value the log cannot store fails only its own run, or is refused; it never stalls
the engine loop or the other runs; and a log that keeps refusing every append is named
instead of retried silently forever."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import attrs
import pytest
from support.documents import dag, echo_task, workflow

from aether.events import catalog as ev
from aether.events.assignment import TaskAssignment, TaskResultReport
from aether.events.values import ResultParameter
from aether.history.verify import verify_run
from aether.runtime.engine import Engine, RequestRejected
from aether.scheduler.decide import decide
from aether.store.base import AppendRequest, StoreError
from aether.store.coordination import Claim
from aether.store.memory import InMemoryEventLog

pytestmark = pytest.mark.spec("6.4", "14.1")

DOCUMENT = workflow("w", dag("main", echo_task("a")))
APPROVAL = workflow("approval", dag("main", {"name": "ok", "executor": {"type": "await"}}))


def fetch(engine: Engine) -> TaskAssignment:
    engine.pump()
    assignment = engine.broker.fetch("w", None, timeout=0)
    assert assignment is not None
    return assignment


def test_a_result_the_log_cannot_store_fails_its_attempt_and_nothing_else() -> None:
    """A worker outside this process reports an integer beyond 64 bits: the attempt is
    recorded as failed with the reason, the other run is not held up."""
    engine = Engine(workers=0)
    poisoned = engine.submit(DOCUMENT).run_id
    healthy = engine.submit(DOCUMENT).run_id
    first, second = fetch(engine), fetch(engine)
    bad = first if first.run_id == poisoned else second
    good = second if bad is first else first
    big = ResultParameter("x", 2**70, True, "integer")
    engine.broker.report_result(TaskResultReport(bad.id, bad.run_id, bad.node_id, bad.attempt, "w", 0, "", (big,)))
    engine.broker.report_result(TaskResultReport(good.id, good.run_id, good.node_id, good.attempt, "w", 0))
    engine.pump()
    assert engine.get_state(healthy).phase == "Succeeded"
    node = engine.get_state(poisoned).node("main/a")
    assert node.phase == "Error"
    assert "the result cannot be recorded" in node.message and "TaskResultReported" in node.message
    recorded = [e for _seq, e in engine.events(poisoned) if isinstance(e, ev.TaskResultReported)]
    assert [(e.code, e.parameters) for e in recorded] == [(3, ())]
    assert verify_run(list(engine.events(poisoned))).mismatch is None


def test_a_request_the_log_cannot_store_is_refused_and_writes_nothing() -> None:
    engine = Engine(workers=0)
    run_id = engine.submit(APPROVAL).run_id
    assignment = fetch(engine)
    engine.broker.report_result(TaskResultReport(assignment.id, run_id, assignment.node_id, 1, "w", 1, "waiting"))
    engine.pump()
    before = engine.log.last_position()
    with pytest.raises(RequestRejected) as refused:
        engine.resume(run_id, "main/ok", {"note": "\ud800"})
    assert refused.value.code == "E-UNRECORDABLE"
    assert "cannot be recorded" in refused.value.message
    assert engine.log.last_position() == before
    engine.resume(run_id, "main/ok", {"note": "fine"})  # the run is not stuck
    assert engine.get_state(run_id).node("main/ok").phase != "Suspended"


def test_a_decision_the_log_cannot_store_ends_its_run_in_error_and_verifies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should the decider ever emit a value the codec refuses, the run ends in Error
    saying so, and verifying the run re-derives exactly that."""
    real = decide

    def poisoning(state: Any, trigger: ev.Event) -> Any:
        decision = real(state, trigger)
        if not isinstance(trigger, ev.TaskResultReported):
            return decision
        big = (ResultParameter("x", 2**70, True, "integer"),)

        def poisoned(events: tuple[ev.Event, ...]) -> tuple[ev.Event, ...]:
            return tuple(attrs.evolve(e, outputs=big) if isinstance(e, ev.WorkflowCompleted) else e for e in events)

        # What was decided and its record (SPEC §6.6.1) alike.
        return attrs.evolve(decision, events=poisoned(decision.events), recorded=poisoned(decision.recorded))

    for where in ("aether.scheduler.decide.decide", "aether.history.verify.decide", "aether.runtime.engine.decide"):
        monkeypatch.setattr(where, poisoning)
    engine = Engine(workers=0)
    run_id = engine.submit(DOCUMENT).run_id
    other = engine.submit(DOCUMENT).run_id
    for _ in range(2):
        a = fetch(engine)
        engine.broker.report_result(TaskResultReport(a.id, a.run_id, a.node_id, a.attempt, "w", 0))
    engine.pump()
    for run in (run_id, other):
        state = engine.get_state(run)
        assert state.phase == "Error"
        assert state.message.startswith("a decision could not be recorded: WorkflowCompleted")
        assert verify_run(list(engine.events(run))).mismatch is None


class RefusingLog(InMemoryEventLog):
    """A database that refuses every append until it is healed (a full disk)."""

    def __init__(self) -> None:
        super().__init__()
        self.refusing = threading.Event()

    def append_batch(
        self, requests: Sequence[AppendRequest], *, fence: str | None = None, claims: Sequence[Claim] = ()
    ) -> list[int]:
        if self.refusing.is_set():
            raise StoreError("database or disk is full")
        return super().append_batch(requests, fence=fence, claims=claims)


def test_a_log_that_keeps_refusing_is_named_and_the_inputs_are_kept() -> None:
    log = RefusingLog()
    engine = Engine(log, workers=1)
    engine.RETRY_DELAY = 0.01  # type: ignore[misc]
    engine.RECORDING_FAILURES_TO_GIVE_UP = 3  # type: ignore[misc]
    with engine:
        run_id = engine.submit(DOCUMENT).run_id
        log.refusing.set()  # the worker's reports meet a full disk
        assert _eventually(lambda: engine.failure is not None)
        assert engine.failure is not None and "disk is full" in engine.failure
        log.refusing.clear()  # space is freed: the kept reports are recorded
        view = engine.wait(run_id, timeout=30)
        assert _eventually(lambda: engine.failure is None)
    assert view["phase"] == "Succeeded"


def _eventually(predicate: Any, timeout: float = 20.0) -> bool:
    import time

    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())
