"""Claims made together (``claim_many``) and the group commit of claims from many worker
threads (``Ownership.claim``): the same answers as claiming one at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aether.events.assignment import TaskAssignment
from aether.runtime.ownership import Ownership
from aether.store.coordination import Claim, Coordination, Fenced, Member
from aether.store.memory import InMemoryEventLog
from aether.store.sqlite import SqliteEventLog

pytestmark = pytest.mark.spec("15")


@pytest.fixture(params=["memory", "sqlite"])
def coordination(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Coordination]:
    log = InMemoryEventLog() if request.param == "memory" else SqliteEventLog(tmp_path / "claims.db")
    yield log.coordination
    log.close()


def claim(n: int, member: str = "m1", run: str = "r1") -> Claim:
    return Claim(f"{run}:main/t{n}#1", run, f"main/t{n}", 1, f"{member}-1", member, 1000 + n)


def test_claim_many_answers_each_claim_in_order(coordination: Coordination) -> None:
    coordination.join(Member("m1", "engine", "h", 1, 0, 10_000))
    assert coordination.claim(claim(2))
    assert coordination.claim_many([claim(1), claim(2), claim(3), claim(1)]) == [True, False, True, False]
    assert [c.assignment_id for c in coordination.claims("r1")] == [claim(n).assignment_id for n in (2, 1, 3)]


def test_claim_many_by_a_removed_member_records_nothing(coordination: Coordination) -> None:
    coordination.join(Member("m1", "engine", "h", 1, 0, 10_000))
    coordination.remove_members(["m1"])
    with pytest.raises(Fenced):
        coordination.claim_many([claim(1), claim(2)])
    assert coordination.claims("r1") == []


def test_claims_from_many_threads_are_each_answered_once(coordination: Coordination) -> None:
    """Every thread claims every assignment: each assignment is won by exactly one
    thread, however the claims were gathered into transactions."""
    ownership = Ownership(coordination, lambda: 5_000, member_id="m1")
    ownership.join()
    assignments = [
        TaskAssignment(f"r1:main/t{n}#1", "r1", f"main/t{n}", 1, 0, "wf", "default", f"t{n}", "work", "echo")
        for n in range(200)
    ]
    wins: dict[str, list[str]] = {a.id: [] for a in assignments}
    lock = threading.Lock()

    def worker(worker_id: str) -> None:
        for assignment in assignments:
            if ownership.claim(assignment, worker_id):
                with lock:
                    wins[assignment.id].append(worker_id)

    threads = [threading.Thread(target=worker, args=(f"m1-{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(len(winners) == 1 for winners in wins.values()), wins
    held = {c.assignment_id: c.worker_id for c in coordination.claims("r1")}
    assert held == {assignment_id: winners[0] for assignment_id, winners in wins.items()}
