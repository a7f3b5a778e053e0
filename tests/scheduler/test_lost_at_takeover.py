"""Which open attempts of a run are lost when an engine takes the run over (SPEC §6.3):
the pure ``attempts_lost_at_takeover``, from the run's state, its claims (assignment id ->
worker and member) and which members are alive. A claim by a dead member is lost
(``claim-expired``); a start without a claim ran under an engine that kept no claims
(``engine-stopped``); an attempt never claimed was never run and is dispatched again as
itself; a claim by a live member is still running."""

from __future__ import annotations

import attrs
import pytest
from support.documents import dag, echo_task, workflow

from aether.events import catalog as ev
from aether.scheduler.outbox import attempts_lost_at_takeover
from tests.scheduler.scheduler_support import DecidedRun

pytestmark = pytest.mark.spec("6.3", "15")

AT = "2026-03-01T10:05:00.000Z"
LIVE = "engine-live"
DEAD = "engine-dead"


def alive(member_id: str) -> bool:
    return member_id == LIVE


def two_tasks() -> DecidedRun:
    return DecidedRun(workflow("w", dag("main", echo_task("a"), echo_task("b"))))


def assignment_id(run: DecidedRun, node_id: str) -> str:
    return run.last(ev.TaskDispatched, node_id).assignment.id


def lost(run: DecidedRun, claimed_by: dict[str, tuple[str, str]]) -> list[ev.AttemptLost]:
    return attempts_lost_at_takeover(run.run, claimed_by, alive, AT)


@pytest.mark.parametrize("started", [False, True], ids=["claimed", "started"])
def test_an_attempt_claimed_by_a_dead_member_is_lost_as_claim_expired(started: bool) -> None:
    run = two_tasks()
    if started:
        run.start("main/a")
    claims = {assignment_id(run, "main/a"): ("engine-dead-2", DEAD)}
    assert lost(run, claims) == [ev.AttemptLost("main/a", 1, AT, "claim-expired", "engine-dead-2", DEAD)]


def test_an_attempt_claimed_by_a_live_member_is_not_lost() -> None:
    run = two_tasks()
    run.start("main/a")
    claims = {assignment_id(run, "main/a"): ("engine-live-1", LIVE), assignment_id(run, "main/b"): ("w", LIVE)}
    assert lost(run, claims) == []


def test_a_started_attempt_without_a_claim_is_lost_as_engine_stopped() -> None:
    run = two_tasks()
    run.start("main/b")
    assert lost(run, {}) == [ev.AttemptLost("main/b", 1, AT, "engine-stopped")]


def test_an_attempt_neither_claimed_nor_started_is_not_lost() -> None:
    run = two_tasks()
    assert len(run.run.open_attempts) == 2
    assert lost(run, {}) == []


def test_claims_of_other_assignments_do_not_count() -> None:
    run = two_tasks()
    run.start("main/a")
    claims = {"run-1:main/a#2": ("w", LIVE), "other-run:main/a#1": ("w", LIVE)}
    assert lost(run, claims) == [ev.AttemptLost("main/a", 1, AT, "engine-stopped")]


def test_the_current_attempt_is_the_one_lost() -> None:
    run = DecidedRun(workflow("w", dag("main", echo_task("a", retry={"limit": 2}))))
    run.finish("main/a", code=3)
    first, second = run.all(ev.TaskDispatched, "main/a")
    claims = {first.assignment.id: ("w-1", DEAD), second.assignment.id: ("w-2", DEAD)}
    assert lost(run, claims) == [ev.AttemptLost("main/a", 2, AT, "claim-expired", "w-2", DEAD)]


def test_an_attempt_that_reported_and_waits_for_a_resume_is_not_lost() -> None:
    run = DecidedRun(workflow("w", dag("main", echo_task("a"), echo_task("b"))))
    claims = {assignment_id(run, "main/a"): ("w", DEAD)}
    run.start("main/a")
    run.report("main/a", code=1)  # suspended: its attempt has its result
    assert run.phase("main/a") == "Suspended"
    assert lost(run, claims) == []


def test_a_terminal_run_loses_nothing() -> None:
    run = two_tasks()
    run.start("main/a")
    claims = {assignment_id(run, "main/b"): ("w", DEAD)}
    assert len(lost(run, claims)) == 2
    # Whatever its attempts say, a finished run is not driven again.
    finished = attrs.evolve(run.run, phase="Failed")
    assert attempts_lost_at_takeover(finished, claims, alive, AT) == []


def test_losses_come_in_dispatch_order() -> None:
    document = workflow(
        "w", dag("main", echo_task("b"), echo_task("c"), echo_task("d"), echo_task("a", dependencies=["c"]))
    )
    run = DecidedRun(document)
    run.advance(1_000)
    run.finish("main/c")  # "a" is dispatched a second after "b" and "d"
    assert [e.node_id for e in run.all(ev.TaskDispatched)] == ["main/b", "main/c", "main/d", "main/a"]
    for node_id in ("main/a", "main/b"):
        run.start(node_id)
    claims = {assignment_id(run, "main/d"): ("w", DEAD)}
    assert [(e.node_id, e.reason) for e in lost(run, claims)] == [
        ("main/b", "engine-stopped"),
        ("main/d", "claim-expired"),
        ("main/a", "engine-stopped"),
    ]


def test_recording_a_loss_dispatches_the_next_attempt() -> None:
    run = two_tasks()
    run.start("main/a")
    first = assignment_id(run, "main/a")
    (loss,) = lost(run, {first: ("engine-dead-2", DEAD)})
    cancel, dispatched = run.step(loss)
    assert cancel == ev.TaskCancelRequested(first, "main/a", 1)
    assert isinstance(dispatched, ev.TaskDispatched)
    assert (dispatched.attempt, dispatched.reason) == (2, "lost")
    assert lost(run, {first: ("engine-dead-2", DEAD)}) == [], "the closed attempt is not lost twice"
