"""This process as a member: its identity, its run leases and its workers' claims.

The rows live in the database (:mod:`aether.store.coordination`); this module holds what
one process knows about them and the rules it applies:

- a member is **dead** once its expiry has passed, or at once when it ran on this
  machine, in this pid namespace, and its process no longer exists;
- which open attempts of a run taken over are lost is decided by the pure
  :func:`aether.scheduler.outbox.attempts_lost_at_takeover`, from the run's claims.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from aether.events.assignment import TaskAssignment
from aether.store.coordination import Claim, Coordination, Member

DEFAULT_LEASE_TTL = 10.0  # seconds a member stays registered without renewing
SERVING = "serve"  # the role of a member that takes up runs nobody holds (``aether serve``)


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def this_locality() -> str:
    """The boot and pid namespace this process runs in; "" where they cannot be known,
    in which case only expiry tells that a member died."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    namespace = _pid_namespace()
    return f"{boot}/{namespace}" if boot and namespace else ""


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    return True


class _ClaimBatch:
    """Claims gathered for one transaction, and what it came to."""

    def __init__(self) -> None:
        self.claims: list[Claim] = []
        self.results: list[bool] = []
        self.error: BaseException | None = None
        self.done = threading.Event()


class Ownership:
    """One member's view of what it owns. Not thread-safe except :meth:`renew`, which
    only touches the database, and :meth:`claim`, which worker threads call; the engine
    serializes the rest under its lock."""

    def __init__(
        self,
        coordination: Coordination,
        now_ms: Callable[[], int],
        *,
        ttl: float = DEFAULT_LEASE_TTL,
        member_id: str | None = None,
        role: str = "engine",
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"the lease time must be positive, not {ttl}")
        self.coordination = coordination
        self.now_ms = now_ms
        self.ttl_ms = int(ttl * 1000)
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.locality = this_locality()
        self.member_id = member_id or f"{self.host}-{self.pid}-{secrets.token_hex(3)}"
        self._base_id = self.member_id
        self._generation = 1
        self._left = False
        self.role = role
        self.owned: set[str] = set()
        self.joined = False
        self.known_members: set[str] = set()
        self.serving_members: set[str] = set()
        self._gathering = threading.Lock()
        self._committing = threading.Lock()
        self._open_batch: _ClaimBatch | None = None

    # --- membership -----------------------------------------------------------------------

    def join(self) -> None:
        if self.joined:
            return
        if self._left:
            # A member that left (or was removed) is gone for good: joining again is a new
            # member, so nothing can confuse its rows with the old one's.
            self._generation += 1
            self.member_id = f"{self._base_id}.{self._generation}"
            self._left = False
        now = self.now_ms()
        self.coordination.join(
            Member(self.member_id, self.role, self.host, self.pid, now, now + self.ttl_ms, self.locality)
        )
        self.joined = True

    def renew(self) -> bool:
        """Push the expiry out by the lease time; False when this member was removed."""
        return self.coordination.renew(self.member_id, self.now_ms() + self.ttl_ms)

    def leave(self) -> None:
        if self.joined:
            self.coordination.leave(self.member_id)
            self.joined = False
            self._left = True
            self.owned.clear()

    @property
    def fence(self) -> str | None:
        """The member id appends must be fenced by: this member's, while it is registered
        and after it left or was removed (so that nothing is appended in its name until it
        joins again as a new member); None before it ever joined (a process that only
        records requests)."""
        return self.member_id if self.joined or self._left else None

    def removed(self) -> None:
        """Another member removed this one (it was found expired): what it held is no
        longer its own, and it may join again only as a new member."""
        self.joined = False
        self._left = True
        self.owned.clear()

    def is_dead(self, member: Member, now_ms: int) -> bool:
        if member.member_id == self.member_id:
            return False
        if member.expires_ms <= now_ms:
            return True
        same_place = bool(self.locality) and member.locality == self.locality and member.host == self.host
        return same_place and member.pid != self.pid and not process_exists(member.pid)

    def remove_dead_members(self) -> list[str]:
        """Unregister the members that are dead; return every member id that departed
        since the last call (removed here or by anyone else)."""
        now = self.now_ms()
        members = self.coordination.members()
        dead = [m.member_id for m in members if self.is_dead(m, now)]
        self.coordination.remove_members(dead)
        live = [m for m in members if m.member_id not in dead]
        alive = {m.member_id for m in live}
        # A member that joined and died since the last call was never known: it departed too.
        departed = (self.known_members - alive) | set(dead)
        self.known_members = alive
        self.serving_members = {m.member_id for m in live if m.role == SERVING}
        return sorted(departed)

    def share_of(self, candidates: int) -> int:
        """How many of ``candidates`` unowned runs this member should lease now: enough to
        bring it up to an even share of the runs held by the members that take runs
        (``serve``), never fewer than none. Together those members' shares cover every
        candidate, so no run is left behind, and a member that already holds more than its
        share leaves new runs to the others."""
        if candidates <= 0:
            return 0
        serving = self.serving_members | {self.member_id}
        counts = self.coordination.lease_counts()
        held = sum(counts.get(member_id, 0) for member_id in serving)
        fair = -(-(held + candidates) // len(serving))
        return max(0, min(candidates, fair - counts.get(self.member_id, 0)))

    # --- leases ---------------------------------------------------------------------------

    def acquire(self, run_ids: Iterable[str]) -> list[str]:
        """Lease what can be leased of ``run_ids``; return the runs newly owned."""
        wanted = [run_id for run_id in run_ids if run_id not in self.owned]
        if not wanted:
            return []
        held = self.coordination.acquire(self.member_id, wanted)
        self.owned.update(held)
        return held

    def release(self, run_ids: Iterable[str]) -> None:
        finished = [run_id for run_id in run_ids if run_id in self.owned]
        if finished:
            self.coordination.release(self.member_id, finished)
            self.owned.difference_update(finished)

    def owns(self, run_id: str) -> bool:
        return run_id in self.owned

    # --- claims ---------------------------------------------------------------------------

    def claim(self, assignment: TaskAssignment, worker_id: str) -> bool:
        """Claim an assignment for one of this process's workers. Called from many worker
        threads at once, the claims are group-committed: while one transaction commits,
        the claims that arrive meanwhile gather into the next one."""
        claim = Claim(
            assignment.id,
            assignment.run_id,
            assignment.node_id,
            assignment.attempt,
            worker_id,
            self.member_id,
            self.now_ms(),
        )
        with self._gathering:
            batch = self._open_batch
            leads = batch is None
            if batch is None:
                batch = self._open_batch = _ClaimBatch()
            index = len(batch.claims)
            batch.claims.append(claim)
        if leads:
            with self._committing:
                with self._gathering:
                    self._open_batch = None  # later claims gather into the next batch
                try:
                    batch.results = self.coordination.claim_many(batch.claims)
                except BaseException as exc:
                    batch.error = exc
                finally:
                    batch.done.set()
        else:
            batch.done.wait()
        if batch.error is not None:
            raise batch.error
        return batch.results[index]


__all__ = ["DEFAULT_LEASE_TTL", "Ownership", "process_exists", "this_locality"]
