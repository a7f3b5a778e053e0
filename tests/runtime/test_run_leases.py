"""Run leases between engines sharing one log (ARCHITECTURE rules 4, 6 and 9; SPEC §6.3,
§15): one engine decides for a run while it lives; once its registration expires or it
leaves, another takes the run over at its next round, records the attempts its workers had
claimed as lost, dispatches their next attempts, and dispatches again, as themselves, the
attempts nobody claimed. The engine it took over from can no longer append or claim.

The engines run in this process without workers, driven by ``pump()`` and
``housekeeping()`` on a fake clock; an engine that is not asked to keep house does not
renew, as a paused process would not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.claims import claim_as_worker
from support.deaths import declare_dead
from support.documents import dag, echo_task, shell_task, workflow

from aether.events import catalog as ev
from aether.events.assignment import TaskAssignment, TaskResultReport
from aether.runtime.clock import FakeClock
from aether.runtime.engine import Engine
from aether.store.base import EventLog
from aether.store.coordination import Coordination, Fenced, RunLease
from aether.store.memory import InMemoryEventLog
from aether.store.sqlite import SqliteEventLog

pytestmark = pytest.mark.spec("6.3", "15")

TTL = 10.0
DOCUMENT = workflow("two", dag("main", echo_task("a"), echo_task("b")))


def engine(log: EventLog, clock: FakeClock, member_id: str, **options: object) -> Engine:
    return Engine(log, workers=0, clock=clock, lease_ttl=TTL, member_id=member_id, **options)  # type: ignore[arg-type]


def coordination(log: EventLog) -> Coordination:
    found = getattr(log, "coordination", None)
    assert isinstance(found, Coordination)
    return found


def owner_of(log: EventLog, run_id: str) -> str | None:
    lease = coordination(log).lease(run_id)
    return None if lease is None or lease.owner is None else lease.owner.member_id


def fetch_all(on: Engine) -> list[TaskAssignment]:
    fetched = []
    while (assignment := on.broker.fetch("test", None, 0)) is not None:
        fetched.append(assignment)
    return fetched


def claim_and_start(on: Engine, assignment: TaskAssignment, worker_id: str) -> None:
    """What a worker of ``on`` does before executing: claim the assignment, report its start."""
    assert claim_as_worker(on, assignment, worker_id)  # records the start with the claim
    on.pump()


def recorded(on: Engine, run_id: str, kind: type[ev.Event]) -> list[ev.Event]:
    return [event for _seq, event in on.events(run_id) if isinstance(event, kind)]


def dispatches(on: Engine, run_id: str) -> list[tuple[str, int, str]]:
    return [(e.node_id, e.attempt, e.reason) for e in recorded(on, run_id, ev.TaskDispatched)]  # type: ignore[attr-defined]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def log() -> Iterator[InMemoryEventLog]:
    store = InMemoryEventLog()
    yield store
    store.close()


class Takeover:
    """A run submitted by ``first``, whose worker claimed and started ``main/a``; ``main/b``
    was dispatched and never claimed. ``second`` serves the same store (through
    ``second_log``, another connection to it, when given)."""

    def __init__(self, log: EventLog, clock: FakeClock, second_log: EventLog | None = None) -> None:
        self.clock = clock
        self.first = engine(log, clock, "first")
        self.first.recover()
        self.second = engine(log if second_log is None else second_log, clock, "second")
        self.second.recover()
        self.run_id = self.first.submit(DOCUMENT).run_id
        by_node = {a.node_id: a for a in fetch_all(self.first)}
        self.a, self.b = by_node["main/a"], by_node["main/b"]
        claim_and_start(self.first, self.a, "first-1")

    def expire_first(self) -> None:
        """Let the first engine's registration lapse (it is not asked to renew), and let the
        second keep house."""
        self.clock.advance(TTL + 1)
        self.second.housekeeping()


def test_a_run_held_by_a_live_engine_is_not_leased_by_another(log: InMemoryEventLog, clock: FakeClock) -> None:
    setup = Takeover(log, clock)
    second = setup.second
    assert second.recover() == 0
    assert owner_of(log, setup.run_id) == "first"
    for _ in range(3):  # the first engine renews: its lease never lapses
        clock.advance(TTL / 2)
        setup.first.housekeeping()
        second.housekeeping()
        assert second.active_runs() == [] and second.broker.pending_count() == 0
    assert owner_of(log, setup.run_id) == "first"
    assert recorded(second, setup.run_id, ev.AttemptLost) == []
    assert not second.drives_run(setup.run_id) and setup.first.drives_run(setup.run_id)


def test_before_the_owners_expiry_passes_the_run_is_left_alone(log: InMemoryEventLog, clock: FakeClock) -> None:
    setup = Takeover(log, clock)
    clock.advance(TTL - 1)
    setup.second.housekeeping()
    assert setup.second.active_runs() == []
    assert owner_of(log, setup.run_id) == "first"


def test_once_the_owner_expired_the_next_round_takes_the_run_over(log: InMemoryEventLog, clock: FakeClock) -> None:
    setup = Takeover(log, clock)
    setup.expire_first()
    second, run_id = setup.second, setup.run_id
    assert second.active_runs() == [run_id]
    assert owner_of(log, run_id) == "second"
    (lost,) = recorded(second, run_id, ev.AttemptLost)
    assert isinstance(lost, ev.AttemptLost)
    assert (lost.node_id, lost.attempt, lost.reason) == ("main/a", 1, "claim-expired")
    assert (lost.worker_id, lost.owner_id) == ("first-1", "first")
    assert dispatches(second, run_id) == [("main/a", 1, "initial"), ("main/b", 1, "initial"), ("main/a", 2, "lost")]
    # The next attempt of the lost one, and the attempt nobody claimed as itself.
    assert sorted(a.id for a in fetch_all(second)) == sorted([f"{run_id}:main/a#2", setup.b.id])
    # The loss is recorded once: the next rounds find nothing more to settle.
    second.housekeeping()
    second.housekeeping()
    assert len(recorded(second, run_id, ev.AttemptLost)) == 1
    assert coordination(log).claims(run_id) == []


def test_the_taker_runs_the_run_to_its_end(log: InMemoryEventLog, clock: FakeClock) -> None:
    setup = Takeover(log, clock)
    setup.expire_first()
    second = setup.second
    for assignment in fetch_all(second):
        claim_and_start(second, assignment, "second-1")
        second.broker.report_result(
            TaskResultReport(assignment.id, assignment.run_id, assignment.node_id, assignment.attempt, "second-1")
        )
        second.pump()
    assert second.get_state(setup.run_id).phase == "Succeeded"
    assert second.active_runs() == []


def test_a_taken_over_engine_appends_nothing_and_stops(log: InMemoryEventLog, clock: FakeClock) -> None:
    setup = Takeover(log, clock)
    setup.expire_first()
    first, a = setup.first, setup.a
    before = log.last_position()
    # The first engine's worker reports the lost attempt's result: it is not recorded.
    first.broker.report_result(TaskResultReport(a.id, a.run_id, a.node_id, a.attempt, "first-1"))
    with pytest.raises(Fenced) as refused:
        first.pump()
    assert refused.value.member_id == "first"
    assert first.fenced, "the engine learns it was fenced from the refused append itself"
    assert any("taken over" in message for message in first.diagnostics)
    assert log.last_position() == before
    # Nothing is appended in its name afterwards either, requests included.
    with pytest.raises(Fenced):
        first.cancel(setup.run_id)
    first.housekeeping()
    assert log.last_position() == before


def test_a_worker_of_a_taken_over_engine_claims_nothing(log: InMemoryEventLog, clock: FakeClock) -> None:
    setup = Takeover(log, clock)
    setup.expire_first()
    first, second = setup.first, setup.second
    assert claim_as_worker(first, setup.b, "first-2") is False
    assert first.fenced, "a refused claim tells the engine it was fenced"
    assert coordination(log).claims(setup.run_id) == []
    # The attempt is still the taker's to run.
    assert claim_as_worker(second, setup.b, "second-1") is True


def test_the_taken_over_engine_is_fenced_by_its_next_round(log: InMemoryEventLog, clock: FakeClock) -> None:
    setup = Takeover(log, clock)
    setup.expire_first()
    setup.first.housekeeping()
    assert setup.first.fenced
    assert owner_of(log, setup.run_id) == "second"


def test_orphaned_runs_are_shared_between_live_engines(log: InMemoryEventLog, clock: FakeClock) -> None:
    one, two = engine(log, clock, "one"), engine(log, clock, "two")
    one.recover()
    two.recover()
    gone = engine(log, clock, "gone")
    runs = {gone.submit(DOCUMENT).run_id for _ in range(5)}
    declare_dead(gone)
    assert sorted(coordination(log).orphaned_runs(100)) == sorted(runs)
    one.housekeeping()  # 5 orphans, 2 serves, none held: an even share is 3
    assert len(one.active_runs()) == 3
    two.housekeeping()  # 3 held, 2 orphans: an even share of 5 is 3, and 2 are left
    assert len(two.active_runs()) == 2
    one.housekeeping()  # already above its share: takes nothing, none is left anyway
    assert len(one.active_runs()) == 3
    assert set(one.active_runs()) | set(two.active_runs()) == runs
    assert set(one.active_runs()) & set(two.active_runs()) == set()
    assert coordination(log).orphaned_runs(100) == []
    assert one.broker.pending_count() == 2 * 3 and two.broker.pending_count() == 2 * 2


def test_a_serve_holding_more_than_its_share_leaves_new_runs_to_the_others(
    log: InMemoryEventLog, clock: FakeClock
) -> None:
    one = engine(log, clock, "one")
    one.recover()
    held = {one.submit(DOCUMENT).run_id for _ in range(3)}
    two = engine(log, clock, "two")
    two.recover()
    one.housekeeping()  # learns that two serves
    offered = Engine(log, workers=0, clock=clock, drives="none").submit(DOCUMENT).run_id
    one.housekeeping()  # 3 held of 4 runs, 2 serves: its share is 2, it holds 3
    assert set(one.active_runs()) == held
    two.housekeeping()
    assert two.active_runs() == [offered]


def test_a_lone_engine_takes_every_orphan_in_one_round(log: InMemoryEventLog, clock: FakeClock) -> None:
    one = engine(log, clock, "one")
    one.recover()
    gone = engine(log, clock, "gone")
    runs = {gone.submit(DOCUMENT).run_id for _ in range(3)}
    declare_dead(gone)
    one.housekeeping()
    assert set(one.active_runs()) == runs


def test_a_run_submitted_without_driving_is_offered_to_a_serve(log: InMemoryEventLog, clock: FakeClock) -> None:
    serving = engine(log, clock, "serving")
    serving.recover()
    submitter = Engine(log, workers=0, clock=clock, drives="none")
    run_id = submitter.submit(DOCUMENT).run_id
    assert coordination(log).lease(run_id) == RunLease(run_id, None)
    assert submitter.broker.pending_count() == 0 and serving.broker.pending_count() == 0
    serving.housekeeping()
    assert serving.active_runs() == [run_id]
    assert owner_of(log, run_id) == "serving"
    assert sorted(a.node_id for a in fetch_all(serving)) == ["main/a", "main/b"]


def test_a_finished_run_gives_up_its_lease_and_claims(log: InMemoryEventLog, clock: FakeClock) -> None:
    only = engine(log, clock, "only")
    run_id = only.submit(DOCUMENT).run_id
    assignments = fetch_all(only)
    for assignment in assignments:
        claim_and_start(only, assignment, "only-1")
    assert len(coordination(log).claims(run_id)) == 2
    for assignment in assignments:
        only.broker.report_result(
            TaskResultReport(assignment.id, assignment.run_id, assignment.node_id, assignment.attempt, "only-1")
        )
    only.pump()
    assert only.get_state(run_id).phase == "Succeeded"
    assert coordination(log).lease(run_id) is None
    assert coordination(log).claims(run_id) == []
    assert not only.drives_run(run_id)
    # Nobody takes a finished run up again.
    later = engine(log, clock, "later")
    assert later.recover() == 0
    assert coordination(log).lease(run_id) is None


def test_two_engines_on_two_connections_to_one_sqlite_file(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "aether.db"
    first_log, second_log = SqliteEventLog(path), SqliteEventLog(path)
    try:
        setup = Takeover(first_log, clock, second_log)
        setup.second.housekeeping()
        assert setup.second.active_runs() == []
        assert owner_of(second_log, setup.run_id) == "first"
        setup.expire_first()
        run_id = setup.run_id
        assert owner_of(first_log, run_id) == "second"
        (lost,) = recorded(setup.second, run_id, ev.AttemptLost)
        assert isinstance(lost, ev.AttemptLost)
        assert (lost.reason, lost.worker_id, lost.owner_id) == ("claim-expired", "first-1", "first")
        assert sorted(a.id for a in fetch_all(setup.second)) == sorted([f"{run_id}:main/a#2", setup.b.id])
        assert claim_as_worker(setup.first, setup.b, "first-2") is False
        assert setup.first.fenced
    finally:
        first_log.close()
        second_log.close()


def wait_for(condition: Callable[[], object], timeout: float = 20.0) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < give_up, "timed out"
        time.sleep(0.02)


def test_a_drained_task_is_recorded_lost_and_a_stopped_engine_hands_its_run_over_at_once(
    log: InMemoryEventLog,
) -> None:
    document = workflow("sleepy", dag("main", shell_task("nap", "sleep 30")))
    # On the real clock: a lease time long enough that "other" outlives a slow test unrenewed.
    other = Engine(log, workers=0, member_id="other", lease_ttl=600.0)
    other.recover()
    draining = Engine(log, workers=1, member_id="draining", lease_ttl=TTL)
    draining.start()
    try:
        run_id = draining.submit(document).run_id
        wait_for(lambda: recorded(draining, run_id, ev.TaskStarted))
        started = time.monotonic()
        assert draining.drain(grace=0.2) is False
        assert time.monotonic() - started < 10, "the interrupted task does not run to its end"
        (lost,) = recorded(draining, run_id, ev.AttemptLost)
        assert isinstance(lost, ev.AttemptLost)
        assert (lost.node_id, lost.attempt, lost.reason) == ("main/nap", 1, "worker-stopped")
        assert (lost.worker_id, lost.owner_id) == ("draining-1", "draining")
        wait_for(lambda: len(dispatches(draining, run_id)) == 2)
        assert dispatches(draining, run_id)[-1] == ("main/nap", 2, "lost")
    finally:
        draining.stop()
    assert coordination(log).lease(run_id) == RunLease(run_id, None)
    other.housekeeping()  # at once: no lease time to wait for
    assert other.active_runs() == [run_id]
    assert [a.id for a in fetch_all(other)] == [f"{run_id}:main/nap#2"]
    assert len(recorded(other, run_id, ev.AttemptLost)) == 1, "the drained attempt is not lost twice"
    assert other.get_state(run_id).phase == "Running"
