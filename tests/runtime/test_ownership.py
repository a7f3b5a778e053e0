"""When a member counts as dead (``Ownership.is_dead``): once its expiry has passed, or at
once when it ran on this machine, in this pid namespace, and its process is gone — a
SIGKILLed serve is taken over at the next round instead of after its lease time. Where
the place cannot be told (another machine, another namespace, no locality known), only
the expiry counts. A member never counts itself dead."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from aether.runtime.ownership import Ownership, process_exists
from aether.store.coordination import Member
from aether.store.memory_coordination import InMemoryCoordination

pytestmark = pytest.mark.spec("15")

NOW_MS = 1_700_000_000_000
HERE = "boot-1/4026531836"


def dead_pid() -> int:
    """The pid of a process that has ended and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_exists(child.pid)
    return child.pid


def ownership(now_ms: int = NOW_MS) -> Ownership:
    owner = Ownership(InMemoryCoordination(), lambda: now_ms, ttl=10.0, member_id="me")
    owner.locality = HERE  # this test's place, whatever the platform can tell
    return owner


def other(
    me: Ownership, *, pid: int, expires_ms: int = NOW_MS + 10_000, host: str | None = None, locality: str = HERE
) -> Member:
    return Member("other", "engine", me.host if host is None else host, pid, NOW_MS - 5_000, expires_ms, locality)


@pytest.fixture(scope="module")
def gone() -> int:
    return dead_pid()


def test_a_member_whose_expiry_has_passed_is_dead_wherever_it_runs() -> None:
    me = ownership()
    alive_pid = os.getppid()
    for host, locality in ((None, HERE), ("elsewhere", "boot-2/1")):
        assert me.is_dead(other(me, pid=alive_pid, expires_ms=NOW_MS - 1, host=host, locality=locality), NOW_MS)
        assert me.is_dead(other(me, pid=alive_pid, expires_ms=NOW_MS, host=host, locality=locality), NOW_MS)
        assert not me.is_dead(other(me, pid=alive_pid, expires_ms=NOW_MS + 1, host=host, locality=locality), NOW_MS)


def test_a_member_of_this_place_whose_process_is_gone_is_dead_before_its_expiry(gone: int) -> None:
    me = ownership()
    assert me.is_dead(other(me, pid=gone), NOW_MS)


def test_a_member_of_this_place_whose_process_runs_is_alive_until_its_expiry() -> None:
    me = ownership()
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as child:
        try:
            assert not me.is_dead(other(me, pid=child.pid), NOW_MS)
        finally:
            child.kill()


@pytest.mark.parametrize(
    ("host", "locality"),
    [(None, "boot-1/4026532000"), (None, "boot-2/4026531836"), ("elsewhere", HERE), (None, "")],
    ids=["other-pid-namespace", "other-boot", "other-host", "no-locality"],
)
def test_a_missing_pid_elsewhere_says_nothing_only_the_expiry_counts(
    gone: int, host: str | None, locality: str
) -> None:
    me = ownership()
    assert not me.is_dead(other(me, pid=gone, host=host, locality=locality), NOW_MS)
    assert me.is_dead(other(me, pid=gone, host=host, locality=locality, expires_ms=NOW_MS), NOW_MS)


def test_without_a_locality_of_its_own_a_member_judges_by_expiry_only(gone: int) -> None:
    me = ownership()
    me.locality = ""
    assert not me.is_dead(other(me, pid=gone, locality=""), NOW_MS)


def test_a_member_never_counts_itself_dead(gone: int) -> None:
    me = ownership()
    myself = Member("me", "engine", me.host, gone, NOW_MS - 20_000, NOW_MS - 10_000, HERE)
    assert not me.is_dead(myself, NOW_MS)


def test_remove_dead_members_unregisters_the_dead_and_reports_every_departure(gone: int) -> None:
    me = ownership()
    me.join()
    coordination = me.coordination
    alive_pid = os.getppid()
    coordination.join(Member("expired", "engine", "elsewhere", alive_pid, NOW_MS, NOW_MS - 1, "boot-2/1"))
    coordination.join(Member("killed", "engine", me.host, gone, NOW_MS, NOW_MS + 10_000, HERE))
    coordination.join(Member("leaving", "engine", "elsewhere", alive_pid, NOW_MS, NOW_MS + 10_000, "boot-2/1"))
    coordination.join(Member("alive", "engine", "elsewhere", alive_pid, NOW_MS, NOW_MS + 10_000, "boot-2/1"))
    # The dead it removed departed, known before or not: a member may join and die between
    # two rounds, and its claims must still be found.
    assert me.remove_dead_members() == ["expired", "killed"]
    assert {m.member_id for m in coordination.members()} == {"me", "leaving", "alive"}
    assert me.known_members == {"me", "leaving", "alive"}
    coordination.leave("leaving")  # another member's departure is reported too
    assert me.remove_dead_members() == ["leaving"]
    assert me.remove_dead_members() == []


def test_the_lease_time_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Ownership(InMemoryCoordination(), lambda: NOW_MS, ttl=0)


def test_acquire_reports_only_runs_newly_owned_and_release_only_what_is_owned() -> None:
    me = ownership()
    me.join()
    rival = Member("rival", "engine", "elsewhere", 1, NOW_MS, NOW_MS + 10_000, "")
    me.coordination.join(rival)
    me.coordination.acquire("rival", ["run-taken"])
    assert me.acquire(["run-1", "run-taken"]) == ["run-1"]
    assert me.acquire(["run-1", "run-2"]) == ["run-2"]
    assert me.owned == {"run-1", "run-2"}
    me.release(["run-1", "run-taken"])
    assert me.owned == {"run-2"}
    assert me.coordination.lease("run-1") is None
    lease = me.coordination.lease("run-taken")
    assert lease is not None and lease.owner == rival
    me.leave()
    assert me.owned == set() and not me.joined
    assert me.coordination.orphaned_runs(10) == ["run-2"]
