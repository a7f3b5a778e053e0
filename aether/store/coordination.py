"""Who may act: members, run leases and claims (ARCHITECTURE rules 4, 6 and 9).

Every process that decides for runs or executes their tasks is a **member**: a row with
an expiry that the process renews while it lives. A member that is removed — it left, or
another member found it expired — is gone for good: it cannot renew, claim, or append
under its fence again, so a process that was paused past its expiry cannot come back and
act on what others have taken over.

A **run lease** says which member decides and dispatches for a run. Its expiry is its
owner's: one renewal keeps all of a member's leases alive, however many runs it holds. A
lease whose owner is no longer a member is orphaned and may be acquired by anyone.

A **claim** records that a worker took an attempt (its assignment id, with the attempt
number) before executing it. An assignment can be claimed once, ever, and only by a live
member; a claim whose member is gone means the attempt was lost.

The adapters keep these rows in the same database as the log, so that ``append_batch``
can check a fence (the appender is still a member) in the transaction that writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from attrs import frozen


@frozen
class Member:
    member_id: str
    role: str  # "engine"
    host: str
    pid: int
    joined_ms: int
    expires_ms: int
    # Where the process runs, precisely enough to tell that it has ended: the machine's
    # boot id and the process's pid namespace ("" where the platform has none).
    locality: str = ""


@frozen
class Claim:
    assignment_id: str
    run_id: str
    node_id: str
    attempt: int
    worker_id: str
    member_id: str
    claimed_ms: int


@frozen
class RunLease:
    run_id: str
    owner: Member | None  # None: orphaned (its owner left or was found expired)


class ClaimsRefused(Exception):
    """An append carried claims of which some were taken before: nothing was written."""

    def __init__(self, assignment_ids: Sequence[str]) -> None:
        super().__init__(f"claimed before: {', '.join(assignment_ids)}")
        self.assignment_ids = tuple(assignment_ids)


def claim_row(claim: Claim) -> tuple[str, str, str, int, str, str, int]:
    """A claim's columns in the order the adapters' ``claims`` tables list them."""
    return (
        claim.assignment_id,
        claim.run_id,
        claim.node_id,
        claim.attempt,
        claim.worker_id,
        claim.member_id,
        claim.claimed_ms,
    )


def refuse_taken(claims: Sequence[Claim], won: Sequence[bool]) -> None:
    """Raise :class:`ClaimsRefused` for the claims that were not won (the caller's
    transaction then rolls back)."""
    refused = [claim.assignment_id for claim, ok in zip(claims, won, strict=True) if not ok]
    if refused:
        raise ClaimsRefused(refused)


class Fenced(Exception):
    """The member is no longer registered: what it held has been, or may be, taken over."""

    def __init__(self, member_id: str) -> None:
        super().__init__(f"member {member_id} is no longer registered (it left, or its lease expired)")
        self.member_id = member_id


@runtime_checkable
class Coordination(Protocol):
    def join(self, member: Member) -> None:
        """Register ``member`` (a new id each time a process starts)."""
        ...

    def renew(self, member_id: str, expires_ms: int) -> bool:
        """Move the member's expiry; False when it is no longer registered (fenced)."""
        ...

    def leave(self, member_id: str) -> None:
        """Unregister the member: its leases become orphaned at once, its claims dead."""
        ...

    def members(self) -> list[Member]: ...

    def remove_members(self, member_ids: Sequence[str]) -> None:
        """Unregister members found dead (expired, or their process is gone)."""
        ...

    def acquire(self, member_id: str, run_ids: Sequence[str]) -> list[str]:
        """Lease to ``member_id`` each of ``run_ids`` that has no lease or an orphaned one;
        return the runs of ``run_ids`` the member holds afterwards. Raises :class:`Fenced`
        if the member is not registered."""
        ...

    def offer(self, run_ids: Sequence[str]) -> None:
        """Give runs that have no lease an orphaned one, so that any engine leases them at
        its next round (a run recorded by a process that does not drive it)."""
        ...

    def lease_counts(self) -> dict[str, int]:
        """How many runs each registered member holds (members holding none are absent)."""
        ...

    def orphaned_runs(self, limit: int) -> list[str]:
        """Up to ``limit`` runs whose lease has no registered owner, oldest lease first."""
        ...

    def release(self, member_id: str, run_ids: Sequence[str]) -> None:
        """The runs are finished: drop their leases (if held by ``member_id``) and claims."""
        ...

    def lease(self, run_id: str) -> RunLease | None:
        """The run's lease, or None if it never had one (or it was released)."""
        ...

    def claim(self, claim: Claim) -> bool:
        """Record the claim if its assignment was never claimed; False if it was. Raises
        :class:`Fenced` if the claiming member is not registered."""
        ...

    def claim_many(self, claims: Sequence[Claim]) -> list[bool]:
        """:meth:`claim` for each, in order, in one transaction (group commit): all of one
        member. Raises :class:`Fenced`, recording none, if that member is not registered."""
        ...

    def claims(self, run_id: str) -> list[Claim]:
        """The run's claims, in claim order."""
        ...

    def dead_claims(self, owner_id: str) -> list[Claim]:
        """Claims on runs leased to ``owner_id`` whose claiming member is gone."""
        ...

    def drop_claims(self, assignment_ids: Sequence[str]) -> None: ...


__all__ = ["Claim", "ClaimsRefused", "Coordination", "Fenced", "Member", "RunLease", "claim_row", "refuse_taken"]
