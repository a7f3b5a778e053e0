"""An engine's own workers claim an attempt by handing their start to the engine, which
writes the claim in the transaction that records the start (ARCHITECTURE rule 6): a task
runs only once both are durable, a start whose attempt was claimed before is refused and
left out of the round, and the rest of the round is recorded as usual. A task dispatched
while a worker waits for work is started, and handed to it, by the round that dispatches it."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.claims import claim_as_worker
from support.documents import dag, echo_task, workflow

from aether.events import catalog as ev
from aether.events.assignment import TaskAssignment, TaskStartReport
from aether.model.problems import Problem
from aether.runtime.broker import LocalBroker
from aether.runtime.clock import FakeClock
from aether.runtime.engine import Engine
from aether.runtime.executors.base import ExecContext, ExecResult
from aether.runtime.setup import sqlite_engine
from aether.store.coordination import Claim, Coordination, Member
from aether.store.memory import InMemoryEventLog

pytestmark = pytest.mark.spec("6.3")


def coordination(engine: Engine) -> Coordination:
    found = getattr(engine.log, "coordination", None)
    assert isinstance(found, Coordination)
    return found


def recorded(engine: Engine, run_id: str, kind: type[ev.Event]) -> list[Any]:
    return [event for _seq, event in engine.events(run_id) if isinstance(event, kind)]


class Witness:
    """Runs a task and notes what the log held for its attempt at that moment."""

    type = "witness"

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.seen: dict[str, tuple[str | None, str | None]] = {}  # node: (worker of the start, of the claim)

    def validate_config(self, config: Mapping[str, Any] | None) -> list[Problem]:
        return []

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        assert self.engine is not None
        started = [
            event.worker_id
            for _seq, event in self.engine.events(request.run_id)
            if isinstance(event, ev.TaskStarted)
            and (event.node_id, event.attempt) == (request.node_id, request.attempt)
        ]
        claimed = [
            c.worker_id for c in coordination(self.engine).claims(request.run_id) if c.assignment_id == request.id
        ]
        self.seen[request.node_id] = (started[0] if started else None, claimed[0] if claimed else None)
        return ExecResult()


def witnessed(name: str) -> dict[str, Any]:
    return {"name": name, "executor": {"type": "witness"}}


def test_a_task_runs_only_once_its_claim_and_its_start_are_recorded(tmp_path: Path) -> None:
    witness = Witness()
    engine = sqlite_engine(tmp_path / "aether.db", executors={"witness": witness}, workers=2)
    witness.engine = engine
    with engine:
        run_id = engine.submit(workflow("seen", dag("main", *(witnessed(f"t{i}") for i in range(6))))).run_id
        assert engine.wait(run_id, timeout=30)["phase"] == "Succeeded"
    assert sorted(witness.seen) == [f"main/t{i}" for i in range(6)]
    for started_by, claimed_by in witness.seen.values():
        assert started_by is not None and started_by == claimed_by
    # Each start is recorded once, with the claim: the worker does not report it again.
    starts = recorded(engine, run_id, ev.TaskStarted)
    assert sorted(s.node_id for s in starts) == [f"main/t{i}" for i in range(6)]
    assert recorded(engine, run_id, ev.InputIgnored) == []
    engine.log.close()


def test_a_start_whose_attempt_was_claimed_before_is_refused_and_the_round_goes_on() -> None:
    log = InMemoryEventLog()
    engine = Engine(log, workers=0, clock=FakeClock(), member_id="engine-1")
    engine.recover()
    run_id = engine.submit(workflow("two", dag("main", echo_task("a"), echo_task("b")))).run_id
    fetched = {}
    while (assignment := engine.broker.fetch("test", None, 0)) is not None:
        fetched[assignment.node_id] = assignment
    a, b = fetched["main/a"], fetched["main/b"]
    # A worker of another process claimed ``a`` first.
    coordination(engine).join(Member("other", "worker", "host", 1, 0, 2**62))
    assert coordination(engine).claim(Claim(a.id, run_id, a.node_id, a.attempt, "other-1", "other", 0))

    answers: dict[str, bool] = {}

    def claim(assignment: TaskAssignment, worker_id: str) -> None:
        answers[assignment.node_id] = engine._claim(assignment, worker_id)

    workers = [
        threading.Thread(target=claim, args=(a, "engine-1-1")),
        threading.Thread(target=claim, args=(b, "engine-1-2")),
    ]
    for worker in workers:
        worker.start()
    give_up = time.monotonic() + 10
    while engine.broker.waiting_reports() < 2 and time.monotonic() < give_up:  # type: ignore[attr-defined]
        time.sleep(0.001)
    engine.pump()  # one round holds both starts
    for worker in workers:
        worker.join(10)
    assert answers == {"main/a": False, "main/b": True}
    assert [(s.node_id, s.worker_id) for s in recorded(engine, run_id, ev.TaskStarted)] == [("main/b", "engine-1-2")]
    held = {c.node_id: c.worker_id for c in coordination(engine).claims(run_id)}
    assert held == {"main/a": "other-1", "main/b": "engine-1-2"}


def test_a_claim_is_granted_once_however_often_it_is_asked() -> None:
    log = InMemoryEventLog()
    engine = Engine(log, workers=0, clock=FakeClock(), member_id="engine-1")
    engine.recover()
    run_id = engine.submit(workflow("one", dag("main", echo_task("a")))).run_id
    a = engine.broker.fetch("test", None, 0)
    assert a is not None
    assert claim_as_worker(engine, a, "engine-1-1") is True
    assert claim_as_worker(engine, a, "engine-1-2") is False
    assert [s.worker_id for s in recorded(engine, run_id, ev.TaskStarted)] == ["engine-1-1"]


class BatchesLog(InMemoryEventLog):
    """Notes the node of every dispatch and start each append carries."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[tuple[str, str]]] = []

    def append_batch(self, requests: Any, *, fence: str | None = None, claims: Any = ()) -> list[int]:
        versions = super().append_batch(requests, fence=fence, claims=claims)
        carried = [
            (event.type, orjson.loads(event.data).get("nodeId", ""))
            for _stream, events, _version in requests
            for event in events
            if event.type in ("TaskDispatched", "TaskStarted")
        ]
        self.batches.append(carried)
        return versions


def test_a_task_dispatched_to_a_waiting_worker_is_started_in_the_same_transaction() -> None:
    """A worker waiting for work is handed the task its round dispatches, with its claim and
    start recorded in that round: a chain costs one round per task, not two."""
    log = BatchesLog()
    engine = Engine(log, workers=1, member_id="engine-1")
    chain = dag("main", echo_task("a"), echo_task("b", dependencies=["a"]), echo_task("c", dependencies=["b"]))
    with engine:
        time.sleep(0.2)  # the worker is waiting for work
        run_id = engine.submit(workflow("chain", chain)).run_id
        assert engine.wait(run_id, timeout=30)["phase"] == "Succeeded"
    for node in ("main/a", "main/b", "main/c"):
        together = [b for b in log.batches if ("TaskDispatched", node) in b and ("TaskStarted", node) in b]
        assert together, f"{node} was dispatched and started in different transactions: {log.batches}"
    held = {c.node_id: c.worker_id for c in coordination(engine).claims(run_id)}
    starts = {s.node_id: s.worker_id for s in recorded(engine, run_id, ev.TaskStarted)}
    assert set(starts) == {"main/a", "main/b", "main/c"}
    assert all(held.get(node, starts[node]) == starts[node] for node in starts)
    assert recorded(engine, run_id, ev.InputIgnored) == []


def test_a_start_waiting_when_the_broker_closes_is_refused_and_never_taken() -> None:
    broker = LocalBroker()
    answers: list[bool] = []
    worker = threading.Thread(
        target=lambda: answers.append(broker.claim_start(TaskStartReport("r:main/a#1", "r", "main/a", 1, "w-1")))
    )
    worker.start()
    give_up = time.monotonic() + 10
    while broker.waiting_reports() < 1 and time.monotonic() < give_up:
        time.sleep(0.001)
    broker.close()
    worker.join(10)
    assert answers == [False]
    assert broker.take_reports() == []
