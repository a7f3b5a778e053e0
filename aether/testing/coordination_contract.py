"""The ``Coordination`` contract (members, run leases and claims; aether/store/coordination.py),
as test classes an adapter's suite subclasses, in the manner of :mod:`aether.testing.contract`.

An event log that several engines share keeps its coordination rows beside its events, as
its ``coordination`` attribute, so that an append can be fenced in the transaction that
writes. The contract therefore takes its adapters from the same registry as the log
contract (:mod:`aether.testing.adapters`): registering an adapter runs it through both.
Aether's own suite collects these classes in ``tests/store``; another adapter's suite
subclasses them and provides ``event_log_factory`` (and ``durable_event_log_factory``) as
described in :mod:`aether.testing.contract`.

The times are plain epoch milliseconds chosen by the test: a coordination store compares
none of them with a clock (who is dead is decided by the members reading the rows).
This module imports pytest: import it from tests only.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import pytest

from aether.store.base import NO_STREAM, EventLog
from aether.store.coordination import Claim, ClaimsRefused, Coordination, Fenced, Member, RunLease
from aether.testing.adapters import EventLogFactory
from aether.testing.log_checks import event, events, read_everything

NOW_MS = 1_700_000_000_000
TTL_MS = 10_000
T = TypeVar("T")


def coordination_of(log: EventLog) -> Coordination:
    """The members, leases and claims kept beside ``log`` (its ``coordination`` attribute)."""
    coordination = getattr(log, "coordination", None)
    assert isinstance(coordination, Coordination), f"{type(log).__name__} keeps no coordination rows"
    return coordination


def member(member_id: str, *, expires_ms: int = NOW_MS + TTL_MS, joined_ms: int = NOW_MS, pid: int = 4242) -> Member:
    return Member(member_id, "engine", "host-1", pid, joined_ms, expires_ms, "boot-1/4026531836")


def claim(
    run_id: str, node_id: str, attempt: int, member_id: str, *, worker_id: str = "", claimed_ms: int = NOW_MS
) -> Claim:
    """A claim of the assignment ``<run>:<node>#<attempt>`` by a worker of ``member_id``."""
    return Claim(
        f"{run_id}:{node_id}#{attempt}", run_id, node_id, attempt, worker_id or f"{member_id}-1", member_id, claimed_ms
    )


def joined(coordination: Coordination, *member_ids: str) -> None:
    for member_id in member_ids:
        coordination.join(member(member_id))


def owner_of(coordination: Coordination, run_id: str) -> str | None:
    """The id of the live member holding the run's lease; None if orphaned or unleased."""
    lease = coordination.lease(run_id)
    return None if lease is None or lease.owner is None else lease.owner.member_id


def assignment_ids(claims: Sequence[Claim]) -> list[str]:
    return [c.assignment_id for c in claims]


class CoordinationContract:
    """What every coordination store promises. Needs an ``event_log_factory`` fixture."""

    @pytest.fixture
    def log(self, event_log_factory: EventLogFactory) -> EventLog:
        return event_log_factory.new()

    @pytest.fixture
    def coordination(self, log: EventLog) -> Coordination:
        return coordination_of(log)

    # -- members -------------------------------------------------------------------------------

    def test_a_joined_member_is_listed_with_every_field(self, coordination: Coordination) -> None:
        assert coordination.members() == []
        first = Member("m-1", "engine", "host-1", 11, NOW_MS, NOW_MS + TTL_MS, "boot-1/ns-1")
        second = Member("m-2", "engine", "host-2", 22, NOW_MS + 5, NOW_MS + 5 + TTL_MS)
        coordination.join(first)
        coordination.join(second)
        assert sorted(coordination.members(), key=lambda m: m.member_id) == [first, second]

    def test_renew_moves_the_expiry_of_a_registered_member(self, coordination: Coordination) -> None:
        joined(coordination, "m-1", "m-2")
        assert coordination.renew("m-1", NOW_MS + 3 * TTL_MS) is True
        expiries = {m.member_id: m.expires_ms for m in coordination.members()}
        assert expiries == {"m-1": NOW_MS + 3 * TTL_MS, "m-2": NOW_MS + TTL_MS}
        # Renewing to the same expiry still finds the member.
        assert coordination.renew("m-1", NOW_MS + 3 * TTL_MS) is True

    def test_renew_of_a_member_never_registered_is_false(self, coordination: Coordination) -> None:
        assert coordination.renew("ghost", NOW_MS + TTL_MS) is False
        assert coordination.members() == []

    def test_leave_unregisters_the_member_for_good(self, coordination: Coordination) -> None:
        joined(coordination, "m-1", "m-2")
        coordination.leave("m-1")
        assert [m.member_id for m in coordination.members()] == ["m-2"]
        assert coordination.renew("m-1", NOW_MS + 2 * TTL_MS) is False
        coordination.leave("m-1")  # leaving twice, or never having joined, is harmless
        coordination.leave("ghost")
        assert [m.member_id for m in coordination.members()] == ["m-2"]

    def test_remove_members_unregisters_exactly_those_named(self, coordination: Coordination) -> None:
        joined(coordination, "m-1", "m-2", "m-3")
        coordination.remove_members([])
        assert len(coordination.members()) == 3
        coordination.remove_members(["m-1", "m-3", "ghost"])
        assert [m.member_id for m in coordination.members()] == ["m-2"]
        assert coordination.renew("m-1", NOW_MS + 2 * TTL_MS) is False
        assert coordination.renew("m-3", NOW_MS + 2 * TTL_MS) is False
        assert coordination.renew("m-2", NOW_MS + 2 * TTL_MS) is True

    @pytest.mark.parametrize("departure", ["leave", "remove"])
    def test_a_departed_member_can_neither_lease_nor_claim(self, coordination: Coordination, departure: str) -> None:
        joined(coordination, "gone", "live")
        coordination.acquire("gone", ["run-held"])
        if departure == "leave":
            coordination.leave("gone")
        else:
            coordination.remove_members(["gone"])
        with pytest.raises(Fenced) as caught:
            coordination.acquire("gone", ["run-new"])
        assert caught.value.member_id == "gone"
        with pytest.raises(Fenced):
            coordination.acquire("gone", ["run-held"])  # not even what it held
        with pytest.raises(Fenced) as caught:
            coordination.claim(claim("run-held", "main/a", 1, "gone"))
        assert caught.value.member_id == "gone"
        assert coordination.lease("run-new") is None
        assert coordination.lease("run-held") == RunLease("run-held", None)
        assert coordination.claims("run-held") == []
        # What it could not claim stays claimable by a live member.
        assert coordination.claim(claim("run-held", "main/a", 1, "live")) is True

    # -- run leases ----------------------------------------------------------------------------

    def test_acquire_leases_free_runs_to_the_member(self, coordination: Coordination) -> None:
        owner = member("m-1")
        coordination.join(owner)
        assert coordination.lease("run-1") is None
        assert coordination.acquire("m-1", ["run-1", "run-2"]) == ["run-1", "run-2"]
        assert coordination.lease("run-1") == RunLease("run-1", owner)
        assert coordination.lease("run-2") == RunLease("run-2", owner)
        assert coordination.lease("run-3") is None
        assert coordination.orphaned_runs(10) == []

    def test_a_lease_carries_its_owners_current_expiry(self, coordination: Coordination) -> None:
        joined(coordination, "m-1")
        coordination.acquire("m-1", ["run-1"])
        coordination.renew("m-1", NOW_MS + 5 * TTL_MS)
        lease = coordination.lease("run-1")
        assert lease is not None and lease.owner is not None
        assert lease.owner.expires_ms == NOW_MS + 5 * TTL_MS

    def test_acquire_of_no_runs_holds_nothing(self, coordination: Coordination) -> None:
        joined(coordination, "m-1")
        assert coordination.acquire("m-1", []) == []
        assert coordination.orphaned_runs(10) == []

    def test_a_run_held_by_a_live_member_is_not_acquired_by_another(self, coordination: Coordination) -> None:
        joined(coordination, "m-1", "m-2")
        coordination.acquire("m-1", ["run-1"])
        assert coordination.acquire("m-2", ["run-1", "run-2"]) == ["run-2"]
        assert owner_of(coordination, "run-1") == "m-1"
        assert owner_of(coordination, "run-2") == "m-2"

    def test_acquiring_what_the_member_holds_returns_it_and_keeps_its_age(self, coordination: Coordination) -> None:
        joined(coordination, "m-1")
        assert coordination.acquire("m-1", ["run-1", "run-2"]) == ["run-1", "run-2"]
        assert coordination.acquire("m-1", ["run-1", "run-3"]) == ["run-1", "run-3"]
        assert [owner_of(coordination, r) for r in ("run-1", "run-2", "run-3")] == ["m-1"] * 3
        coordination.leave("m-1")
        assert coordination.orphaned_runs(10) == ["run-1", "run-2", "run-3"]

    @pytest.mark.parametrize("departure", ["leave", "remove"])
    def test_the_lease_of_a_departed_owner_is_orphaned_and_acquirable(
        self, coordination: Coordination, departure: str
    ) -> None:
        joined(coordination, "m-1", "m-2")
        coordination.acquire("m-1", ["run-1", "run-2"])
        if departure == "leave":
            coordination.leave("m-1")
        else:
            coordination.remove_members(["m-1"])
        assert coordination.lease("run-1") == RunLease("run-1", None)
        assert coordination.orphaned_runs(10) == ["run-1", "run-2"]
        assert coordination.acquire("m-2", ["run-1"]) == ["run-1"]
        assert owner_of(coordination, "run-1") == "m-2"
        assert coordination.orphaned_runs(10) == ["run-2"]

    def test_acquire_by_an_unregistered_member_raises_and_leases_nothing(self, coordination: Coordination) -> None:
        with pytest.raises(Fenced) as caught:
            coordination.acquire("ghost", ["run-1"])
        assert caught.value.member_id == "ghost"
        assert coordination.lease("run-1") is None
        with pytest.raises(Fenced):
            coordination.acquire("ghost", [])

    def test_offer_gives_unleased_runs_an_orphaned_lease(self, coordination: Coordination) -> None:
        coordination.offer([])
        assert coordination.orphaned_runs(10) == []
        coordination.offer(["run-1", "run-2"])
        assert coordination.lease("run-1") == RunLease("run-1", None)
        assert coordination.orphaned_runs(10) == ["run-1", "run-2"]
        joined(coordination, "m-1")
        assert coordination.acquire("m-1", ["run-2"]) == ["run-2"]
        assert coordination.orphaned_runs(10) == ["run-1"]

    def test_offer_does_not_override_an_existing_lease(self, coordination: Coordination) -> None:
        joined(coordination, "m-1")
        coordination.acquire("m-1", ["run-held"])
        coordination.offer(["run-old"])
        coordination.offer(["run-new", "run-held", "run-old"])
        assert owner_of(coordination, "run-held") == "m-1"
        # An offered run offered again keeps its age.
        assert coordination.orphaned_runs(10) == ["run-old", "run-new"]

    def test_orphaned_runs_are_listed_oldest_lease_first_up_to_the_limit(self, coordination: Coordination) -> None:
        joined(coordination, "m-1", "m-2", "m-3")
        coordination.acquire("m-1", ["run-b"])
        coordination.acquire("m-2", ["run-live"])
        coordination.acquire("m-1", ["run-a", "run-d"])
        coordination.offer(["run-c"])
        coordination.leave("m-1")
        assert coordination.orphaned_runs(10) == ["run-b", "run-a", "run-d", "run-c"]
        assert coordination.orphaned_runs(2) == ["run-b", "run-a"]
        assert coordination.orphaned_runs(1) == ["run-b"]
        assert coordination.orphaned_runs(0) == []
        # A lease acquired again is new: once orphaned again, it comes last.
        coordination.acquire("m-3", ["run-b"])
        coordination.leave("m-3")
        assert coordination.orphaned_runs(10) == ["run-a", "run-d", "run-c", "run-b"]

    def test_lease_counts_are_the_runs_each_registered_member_holds(self, coordination: Coordination) -> None:
        joined(coordination, "m-1", "m-2", "m-3")
        coordination.acquire("m-1", ["run-a", "run-b"])
        coordination.acquire("m-2", ["run-c"])
        coordination.offer(["run-d"])
        assert coordination.lease_counts() == {"m-1": 2, "m-2": 1}
        coordination.leave("m-1")  # its leases are orphaned: nobody holds them
        assert coordination.lease_counts() == {"m-2": 1}
        coordination.acquire("m-3", ["run-a", "run-d"])
        assert coordination.lease_counts() == {"m-2": 1, "m-3": 2}

    def test_release_drops_the_callers_leases_and_their_claims(self, coordination: Coordination) -> None:
        joined(coordination, "m-1")
        coordination.acquire("m-1", ["run-1", "run-2"])
        coordination.claim(claim("run-1", "main/a", 1, "m-1"))
        coordination.claim(claim("run-2", "main/a", 1, "m-1"))
        coordination.release("m-1", [])
        coordination.release("m-1", ["run-1"])
        assert coordination.lease("run-1") is None
        assert coordination.claims("run-1") == []
        assert coordination.orphaned_runs(10) == []
        assert owner_of(coordination, "run-2") == "m-1"
        assert assignment_ids(coordination.claims("run-2")) == ["run-2:main/a#1"]
        # A released run starts afresh: its assignments can be claimed again.
        assert coordination.claim(claim("run-1", "main/a", 1, "m-1")) is True

    def test_release_by_a_member_not_holding_the_lease_changes_nothing(self, coordination: Coordination) -> None:
        owner = member("m-1")
        coordination.join(owner)
        joined(coordination, "m-2")
        coordination.acquire("m-1", ["run-1"])
        coordination.offer(["run-offered"])
        coordination.claim(claim("run-1", "main/a", 1, "m-1"))
        coordination.claim(claim("run-offered", "main/a", 1, "m-2"))
        coordination.release("m-2", ["run-1", "run-offered", "run-unknown"])
        assert coordination.lease("run-1") == RunLease("run-1", owner)
        assert assignment_ids(coordination.claims("run-1")) == ["run-1:main/a#1"]
        assert coordination.lease("run-offered") == RunLease("run-offered", None)
        assert assignment_ids(coordination.claims("run-offered")) == ["run-offered:main/a#1"]
        assert coordination.claim(claim("run-1", "main/a", 1, "m-2")) is False

    # -- claims --------------------------------------------------------------------------------

    def test_an_assignment_is_claimed_once(self, coordination: Coordination) -> None:
        joined(coordination, "m-1", "m-2")
        first = claim("run-1", "main/a", 1, "m-1", worker_id="m-1-3")
        assert coordination.claim(first) is True
        assert coordination.claim(claim("run-1", "main/a", 1, "m-1", worker_id="m-1-4")) is False
        assert coordination.claim(claim("run-1", "main/a", 1, "m-2", claimed_ms=NOW_MS + 1)) is False
        assert coordination.claims("run-1") == [first]
        # The next attempt is another assignment.
        assert coordination.claim(claim("run-1", "main/a", 2, "m-2")) is True

    def test_a_dropped_claim_is_no_longer_held_and_still_not_claimable(self, coordination: Coordination) -> None:
        joined(coordination, "m-1")
        coordination.claim(claim("run-1", "main/a", 1, "m-1"))
        kept = claim("run-1", "main/b", 1, "m-1")
        coordination.claim(kept)
        coordination.drop_claims([])
        coordination.drop_claims(["run-1:main/a#1", "run-1:main/unknown#1"])
        assert coordination.claims("run-1") == [kept]
        assert coordination.claim(claim("run-1", "main/a", 1, "m-1")) is False
        assert coordination.claims("run-1") == [kept]

    def test_claims_lists_a_runs_held_claims_in_claim_order(self, coordination: Coordination) -> None:
        joined(coordination, "m-1", "m-2")
        # Claim order is the order they were recorded, whatever the members' clocks said.
        made = [
            claim("run-1", "main/c", 1, "m-1", claimed_ms=NOW_MS + 30),
            claim("run-1", "main/a", 1, "m-2", claimed_ms=NOW_MS + 10),
            claim("run-2", "main/a", 1, "m-1", claimed_ms=NOW_MS + 20),
            claim("run-1", "main/b", 1, "m-1", claimed_ms=NOW_MS + 20),
        ]
        for made_claim in made:
            assert coordination.claim(made_claim) is True
        assert coordination.claims("run-1") == [made[0], made[1], made[3]]
        assert coordination.claims("run-2") == [made[2]]
        assert coordination.claims("run-3") == []

    def test_a_claim_by_an_unregistered_member_raises_and_records_nothing(self, coordination: Coordination) -> None:
        joined(coordination, "m-1")
        with pytest.raises(Fenced) as caught:
            coordination.claim(claim("run-1", "main/a", 1, "ghost"))
        assert caught.value.member_id == "ghost"
        assert coordination.claims("run-1") == []
        assert coordination.claim(claim("run-1", "main/a", 1, "m-1")) is True

    def test_claim_many_answers_each_claim_in_order_in_one_go(self, coordination: Coordination) -> None:
        joined(coordination, "m-1", "m-2")
        assert coordination.claim_many([]) == []
        earlier = claim("run-1", "main/a", 1, "m-2")
        coordination.claim(earlier)
        batch = [
            claim("run-1", "main/b", 1, "m-1"),
            claim("run-1", "main/a", 1, "m-1"),  # claimed before
            claim("run-2", "main/a", 1, "m-1"),
            claim("run-1", "main/b", 1, "m-1", worker_id="m-1-2"),  # claimed earlier in this batch
        ]
        assert coordination.claim_many(batch) == [True, False, True, False]
        assert coordination.claims("run-1") == [earlier, batch[0]]
        assert coordination.claims("run-2") == [batch[2]]

    @pytest.mark.parametrize("departure", ["never-joined", "remove"])
    def test_claim_many_by_an_unregistered_member_raises_and_records_none(
        self, coordination: Coordination, departure: str
    ) -> None:
        if departure == "remove":
            joined(coordination, "m-1")
            coordination.remove_members(["m-1"])
        with pytest.raises(Fenced) as caught:
            coordination.claim_many([claim("run-1", "main/a", 1, "m-1"), claim("run-1", "main/b", 1, "m-1")])
        assert caught.value.member_id == "m-1"
        assert coordination.claims("run-1") == []
        joined(coordination, "m-2")
        assert coordination.claim_many([claim("run-1", "main/a", 1, "m-2")]) == [True]

    def test_dead_claims_are_the_held_claims_of_departed_members_on_the_owners_runs(
        self, coordination: Coordination
    ) -> None:
        joined(coordination, "owner", "other-owner", "live", "dead")
        coordination.acquire("owner", ["run-1", "run-2"])
        coordination.acquire("other-owner", ["run-3"])
        dead_on_1 = claim("run-1", "main/a", 1, "dead", claimed_ms=NOW_MS + 3)
        dead_on_2 = claim("run-2", "main/a", 1, "dead", claimed_ms=NOW_MS + 1)
        dead_settled = claim("run-1", "main/b", 1, "dead")
        for made in (
            claim("run-1", "main/live", 1, "live"),
            dead_on_1,
            claim("run-1", "main/own", 1, "owner"),
            dead_settled,
            claim("run-3", "main/a", 1, "dead"),  # on a run leased to another member
            dead_on_2,
        ):
            coordination.claim(made)
        assert coordination.dead_claims("owner") == []
        coordination.remove_members(["dead"])
        coordination.drop_claims([dead_settled.assignment_id])
        assert coordination.dead_claims("owner") == [dead_on_1, dead_on_2]
        assert coordination.dead_claims("live") == []
        assert assignment_ids(coordination.dead_claims("other-owner")) == ["run-3:main/a#1"]

    def test_a_member_taking_a_run_over_finds_its_former_owners_claims_dead(self, coordination: Coordination) -> None:
        joined(coordination, "first", "second")
        coordination.acquire("first", ["run-1"])
        lost = claim("run-1", "main/a", 1, "first")
        coordination.claim(lost)
        coordination.remove_members(["first"])
        assert coordination.dead_claims("second") == []
        assert coordination.acquire("second", ["run-1"]) == ["run-1"]
        assert coordination.dead_claims("second") == [lost]
        coordination.drop_claims([lost.assignment_id])
        assert coordination.dead_claims("second") == []
        assert coordination.claim(claim("run-1", "main/a", 1, "second")) is False

    # -- the fence of an append ----------------------------------------------------------------

    def test_a_fenced_append_of_a_registered_member_is_written(self, log: EventLog) -> None:
        joined(coordination_of(log), "m-1")
        versions = log.append_batch([("a", events("a", 2), NO_STREAM), ("b", [event("b")], NO_STREAM)], fence="m-1")
        assert versions == [2, 1]
        assert log.stream_version("a") == 2 and log.stream_version("b") == 1

    @pytest.mark.parametrize("departure", ["never-joined", "leave", "remove"])
    def test_a_fenced_append_of_an_unregistered_member_raises_and_writes_nothing(
        self, log: EventLog, departure: str
    ) -> None:
        coordination = coordination_of(log)
        joined(coordination, "m-1")
        log.append("a", events("a", 2), NO_STREAM)
        if departure == "leave":
            coordination.leave("m-1")
        elif departure == "remove":
            coordination.remove_members(["m-1"])
        fence = "ghost" if departure == "never-joined" else "m-1"
        before = (read_everything(log), list(log.streams()), log.last_position())
        with pytest.raises(Fenced) as caught:
            log.append_batch([("a", [event("a", 2)], 2), ("b", [event("b")], NO_STREAM)], fence=fence)
        assert caught.value.member_id == fence
        # Before the expected versions: a fenced writer must stop, not reload and retry.
        with pytest.raises(Fenced):
            log.append_batch([("a", [event("a", 2)], NO_STREAM)], fence=fence)
        assert (read_everything(log), list(log.streams()), log.last_position()) == before
        assert log.stream_version("a") == 2 and log.stream_version("b") == 0
        # Unfenced appends are not affected.
        assert log.append_batch([("a", [event("a", 2)], 2)]) == [3]

    # -- claims carried by an append -------------------------------------------------------------

    def test_claims_carried_by_an_append_are_written_with_its_events(self, log: EventLog) -> None:
        coordination = coordination_of(log)
        joined(coordination, "m-1")
        coordination.acquire("m-1", ["run-1"])
        carried = [claim("run-1", "main/a", 1, "m-1"), claim("run-1", "main/b", 1, "m-1")]
        assert log.append_batch([("a", events("a", 2), NO_STREAM)], fence="m-1", claims=carried) == [2]
        assert coordination.claims("run-1") == carried
        # Claims alone are an append too: nothing else is needed to carry them.
        alone = claim("run-1", "main/c", 1, "m-1")
        assert log.append_batch([], fence="m-1", claims=[alone]) == []
        assert coordination.claims("run-1") == [*carried, alone]

    @pytest.mark.parametrize("taken", ["before", "twice-in-the-batch"])
    def test_an_append_carrying_a_claim_taken_before_writes_nothing(self, log: EventLog, taken: str) -> None:
        coordination = coordination_of(log)
        joined(coordination, "m-1", "m-2")
        earlier = claim("run-1", "main/a", 1, "m-1")
        fresh = claim("run-1", "main/b", 1, "m-2")
        if taken == "before":
            assert coordination.claim(earlier) is True
            carried = [fresh, claim("run-1", "main/a", 1, "m-2")]
        else:
            carried = [fresh, claim("run-1", "main/a", 1, "m-2"), claim("run-1", "main/a", 1, "m-2", worker_id="w-2")]
        log.append("a", events("a", 1), NO_STREAM)
        before = (read_everything(log), log.last_position(), coordination.claims("run-1"))
        with pytest.raises(ClaimsRefused) as refused:
            log.append_batch([("a", [event("a", 2)], 1)], fence="m-2", claims=carried)
        assert refused.value.assignment_ids == ("run-1:main/a#1",)
        assert (read_everything(log), log.last_position(), coordination.claims("run-1")) == before
        # The claim that was refused with it is still free.
        assert coordination.claim(fresh) is True

    def test_an_append_carrying_a_claim_of_an_unregistered_member_is_fenced(self, log: EventLog) -> None:
        coordination = coordination_of(log)
        joined(coordination, "m-1")
        with pytest.raises(Fenced) as caught:
            log.append_batch([("a", [event("a")], NO_STREAM)], claims=[claim("run-1", "main/a", 1, "ghost")])
        assert caught.value.member_id == "ghost"
        assert log.stream_version("a") == 0
        assert coordination.claims("run-1") == []


def race(workers: Sequence[Callable[[], T]]) -> list[T]:
    """Run every worker on its own thread, released together; their results in order."""
    start = threading.Barrier(len(workers))
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait()
            results[index] = workers[index]()
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(results) == len(workers), "a worker did not finish"
    return [results[i] for i in range(len(workers))]


class DurableCoordinationContract:
    """What a coordination store shared by several processes promises: two log objects
    opened on the same store (two connections, as two processes hold) see each other's
    rows, and their writes are serialized. Needs a ``durable_event_log_factory`` fixture."""

    @contextlib.contextmanager
    def two_views(self, factory: EventLogFactory) -> Iterator[tuple[EventLog, EventLog]]:
        first = factory.new()
        second = factory.adapter.open_log(factory.directory_of(first), factory.clock)
        try:
            yield first, second
        finally:
            second.close()

    def test_each_view_sees_the_others_members_leases_and_claims(
        self, durable_event_log_factory: EventLogFactory
    ) -> None:
        with self.two_views(durable_event_log_factory) as (first_log, second_log):
            one, two = coordination_of(first_log), coordination_of(second_log)
            joined(one, "m-1")
            joined(two, "m-2")
            assert {m.member_id for m in one.members()} == {m.member_id for m in two.members()} == {"m-1", "m-2"}
            assert one.acquire("m-1", ["run-1"]) == ["run-1"]
            assert owner_of(two, "run-1") == "m-1"
            assert two.acquire("m-2", ["run-1", "run-2"]) == ["run-2"]
            assert owner_of(one, "run-2") == "m-2"
            made = claim("run-1", "main/a", 1, "m-1")
            assert one.claim(made)
            assert two.claims("run-1") == [made]
            assert two.claim(claim("run-1", "main/a", 1, "m-2")) is False
            two.remove_members(["m-1"])
            assert two.dead_claims("m-1") == [made]
            assert one.renew("m-1", NOW_MS + 2 * TTL_MS) is False
            assert one.orphaned_runs(10) == ["run-1"]
            with pytest.raises(Fenced):
                first_log.append_batch([("s", [event("s")], NO_STREAM)], fence="m-1")
            assert second_log.append_batch([("s", [event("s")], NO_STREAM)], fence="m-2") == [1]
            assert first_log.stream_version("s") == 1

    def test_of_two_views_claiming_the_same_assignments_exactly_one_wins_each(
        self, durable_event_log_factory: EventLogFactory
    ) -> None:
        assignments = 30
        with self.two_views(durable_event_log_factory) as (first_log, second_log):
            one, two = coordination_of(first_log), coordination_of(second_log)
            joined(one, "m-1", "m-2")

            def claim_all(coordination: Coordination, member_id: str) -> list[bool]:
                return [coordination.claim(claim("run-1", f"main/t{n}", 1, member_id)) for n in range(assignments)]

            won_by_one, won_by_two = race([lambda: claim_all(one, "m-1"), lambda: claim_all(two, "m-2")])
            assert [a != b for a, b in zip(won_by_one, won_by_two, strict=True)] == [True] * assignments
            held = {c.assignment_id: c.member_id for c in one.claims("run-1")}
            assert held == {f"run-1:main/t{n}#1": "m-1" if won_by_one[n] else "m-2" for n in range(assignments)}

    def test_of_two_views_acquiring_the_same_runs_each_run_gets_one_owner(
        self, durable_event_log_factory: EventLogFactory
    ) -> None:
        runs = [f"run-{n}" for n in range(30)]
        with self.two_views(durable_event_log_factory) as (first_log, second_log):
            one, two = coordination_of(first_log), coordination_of(second_log)
            joined(one, "m-1", "m-2")

            def acquire_one_by_one(coordination: Coordination, member_id: str) -> list[str]:
                return [run for run in runs if coordination.acquire(member_id, [run])]

            held_by_one, held_by_two = race(
                [lambda: acquire_one_by_one(one, "m-1"), lambda: acquire_one_by_one(two, "m-2")]
            )
            assert sorted(held_by_one + held_by_two) == sorted(runs)
            assert {run: owner_of(two, run) for run in runs} == {
                run: "m-1" if run in held_by_one else "m-2" for run in runs
            }
