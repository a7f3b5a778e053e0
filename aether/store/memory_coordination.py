"""Members, run leases and claims in process memory, beside the in-memory log.

It shares the log's lock, so a fenced append and a takeover are serialized as they are
in a database. The reference semantics of :class:`aether.store.coordination.Coordination`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import attrs

from aether.store.coordination import Claim, Fenced, Member, RunLease, refuse_taken


class InMemoryCoordination:
    def __init__(self, lock: threading.Lock | None = None) -> None:
        self._lock = lock if lock is not None else threading.Lock()
        self._members: dict[str, Member] = {}
        self._leases: dict[str, str | None] = {}  # run id -> owner id; insertion order = age
        self._claims: dict[str, Claim] = {}  # held claims by assignment id, in claim order
        # Every assignment id ever claimed, by run, until the run is released.
        self._claimed: dict[str, set[str]] = {}

    def join(self, member: Member) -> None:
        with self._lock:
            self._members[member.member_id] = member

    def renew(self, member_id: str, expires_ms: int) -> bool:
        with self._lock:
            member = self._members.get(member_id)
            if member is None:
                return False
            self._members[member_id] = attrs.evolve(member, expires_ms=expires_ms)
            return True

    def leave(self, member_id: str) -> None:
        self.remove_members([member_id])

    def members(self) -> list[Member]:
        with self._lock:
            return list(self._members.values())

    def remove_members(self, member_ids: Sequence[str]) -> None:
        with self._lock:
            for member_id in member_ids:
                self._members.pop(member_id, None)

    def acquire(self, member_id: str, run_ids: Sequence[str]) -> list[str]:
        with self._lock:
            self.check_fence_locked(member_id)
            held: list[str] = []
            for run_id in run_ids:
                owner = self._leases.get(run_id)
                if owner is None or owner not in self._members:
                    self._leases.pop(run_id, None)
                    self._leases[run_id] = member_id
                    owner = member_id
                if owner == member_id:
                    held.append(run_id)
            return held

    def offer(self, run_ids: Sequence[str]) -> None:
        with self._lock:
            for run_id in run_ids:
                self._leases.setdefault(run_id, None)

    def lease_counts(self) -> dict[str, int]:
        with self._lock:
            counts: dict[str, int] = {}
            for owner in self._leases.values():
                if owner is not None and owner in self._members:
                    counts[owner] = counts.get(owner, 0) + 1
            return counts

    def orphaned_runs(self, limit: int) -> list[str]:
        with self._lock:
            orphans: list[str] = []
            for run_id, owner in self._leases.items():
                if len(orphans) >= limit:
                    break
                if owner is None or owner not in self._members:
                    orphans.append(run_id)
            return orphans

    def release(self, member_id: str, run_ids: Sequence[str]) -> None:
        with self._lock:
            for run_id in run_ids:
                if self._leases.get(run_id) != member_id:
                    continue  # another member's run: its claims still count
                del self._leases[run_id]
                for assignment_id in self._claimed.pop(run_id, ()):
                    self._claims.pop(assignment_id, None)

    def lease(self, run_id: str) -> RunLease | None:
        with self._lock:
            if run_id not in self._leases:
                return None
            owner = self._leases[run_id]
            return RunLease(run_id, None if owner is None else self._members.get(owner))

    def claim(self, claim: Claim) -> bool:
        return self.claim_many([claim])[0]

    def claim_many(self, claims: Sequence[Claim]) -> list[bool]:
        with self._lock:
            for member_id in {claim.member_id for claim in claims}:
                self.check_fence_locked(member_id)
            return [self._claim_locked(claim) for claim in claims]

    def claim_all_locked(self, claims: Sequence[Claim]) -> None:
        """Claim every one of ``claims`` or, raising :class:`ClaimsRefused`, none; the
        caller holds the lock."""
        for member_id in {claim.member_id for claim in claims}:
            self.check_fence_locked(member_id)
        seen: set[str] = set()
        won = []
        for claim in claims:
            won.append(claim.assignment_id not in seen and not self._is_claimed_locked(claim))
            seen.add(claim.assignment_id)
        refuse_taken(claims, won)
        for claim in claims:
            self._claim_locked(claim)

    def _is_claimed_locked(self, claim: Claim) -> bool:
        return claim.assignment_id in self._claimed.get(claim.run_id, ())

    def _claim_locked(self, claim: Claim) -> bool:
        claimed = self._claimed.setdefault(claim.run_id, set())
        if claim.assignment_id in claimed:
            return False
        claimed.add(claim.assignment_id)
        self._claims[claim.assignment_id] = claim
        return True

    def claims(self, run_id: str) -> list[Claim]:
        with self._lock:
            return [claim for claim in self._claims.values() if claim.run_id == run_id]

    def dead_claims(self, owner_id: str) -> list[Claim]:
        with self._lock:
            return [
                claim
                for claim in self._claims.values()
                if self._leases.get(claim.run_id) == owner_id and claim.member_id not in self._members
            ]

    def drop_claims(self, assignment_ids: Sequence[str]) -> None:
        """The attempts are settled (their loss recorded): their claims stop being held,
        and their assignments still cannot be claimed again."""
        with self._lock:
            for assignment_id in assignment_ids:
                self._claims.pop(assignment_id, None)

    def check_fence_locked(self, member_id: str) -> None:
        """Raise :class:`Fenced` unless the member is registered; the caller holds the lock."""
        if member_id not in self._members:
            raise Fenced(member_id)


__all__ = ["InMemoryCoordination"]
