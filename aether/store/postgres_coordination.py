"""Members, run leases and claims in the PostgreSQL database of the log (tables of migration 2).

The semantics are :mod:`aether.store.sqlite_coordination`'s. Every call is one transaction
on a connection of the log's pool. SQLite serializes all writers with its file lock;
here each kind of write is made safe against concurrent processes on its own terms:

- Leases (``acquire``, ``offer``, ``release``) take the advisory lock :data:`LEASE_LOCK`
  first, so reading who holds a run and taking it over is atomic, and ``seq`` (the
  lease's age) is max + 1 as in SQLite.
- A claim is one ``INSERT ... ON CONFLICT DO NOTHING``: the primary key decides which of
  two concurrent claims of an assignment wins.
- A member's fence (:func:`check_fence`) locks its row ``FOR KEY SHARE``: a removal waits
  for the fenced transaction to commit, or has committed and the member is gone. Renewing
  (an update of a non-key column) does not wait for it. Fences and removals lock several
  members in sorted order, so two of them cannot deadlock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, Protocol

import psycopg

from aether.store.coordination import Claim, Fenced, Member, RunLease, claim_row

# The advisory lock (per database) that serializes lease writes.
LEASE_LOCK = 0x41657468_00000003

Connection = psycopg.Connection[Any]

_MEMBER_COLUMNS = "member_id, role, host, pid, joined_ms, expires_ms, locality"
_CLAIM_COLUMNS = "assignment_id, run_id, node_id, attempt, worker_id, member_id, claimed_ms"
_LOCK_LEASES = "SELECT pg_advisory_xact_lock(%s)"


class _Transactions(Protocol):
    def transaction(
        self, *, write: bool = True, doing: str = "write"
    ) -> contextlib.AbstractContextManager[Connection]: ...


def insert_claims(conn: Connection, claims: Sequence[Claim]) -> list[bool]:
    """Claim each of ``claims`` inside the caller's transaction, after checking that its
    members are registered; True for each claim that was not taken before."""
    for member_id in sorted({claim.member_id for claim in claims}):
        check_fence(conn, member_id)
    with conn.cursor() as cursor:
        # One statement per claim, sent together: each answers whether it inserted, which
        # also settles a claim repeated within the batch.
        cursor.executemany(
            f"INSERT INTO claims ({_CLAIM_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING 1",
            [claim_row(claim) for claim in claims],
            returning=True,
        )
        won: list[bool] = []
        while True:
            won.append(cursor.fetchone() is not None)
            if not cursor.nextset():
                break
    return won


def check_fence(conn: Connection, member_id: str) -> None:
    """Raise :class:`Fenced` unless ``member_id`` is registered, and keep it registered until
    the caller's transaction ends (its row is locked against removal)."""
    row = conn.execute("SELECT 1 FROM members WHERE member_id = %s FOR KEY SHARE", (member_id,)).fetchone()
    if row is None:
        raise Fenced(member_id)


def _member(row: Sequence[Any]) -> Member:
    member_id, role, host, pid, joined_ms, expires_ms, locality = row
    return Member(member_id, role, host, pid, joined_ms, expires_ms, locality)


class PostgresCoordination:
    def __init__(self, db: _Transactions) -> None:
        self._db = db

    # -- members -------------------------------------------------------------------------

    def join(self, member: Member) -> None:
        with self._db.transaction(doing="join") as conn:
            conn.execute(
                f"INSERT INTO members ({_MEMBER_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (member_id) DO UPDATE SET role = excluded.role, host = excluded.host,"
                " pid = excluded.pid, joined_ms = excluded.joined_ms, expires_ms = excluded.expires_ms,"
                " locality = excluded.locality",
                (
                    member.member_id,
                    member.role,
                    member.host,
                    member.pid,
                    member.joined_ms,
                    member.expires_ms,
                    member.locality,
                ),
            )

    def renew(self, member_id: str, expires_ms: int) -> bool:
        with self._db.transaction(doing="renew") as conn:
            cursor = conn.execute("UPDATE members SET expires_ms = %s WHERE member_id = %s", (expires_ms, member_id))
            return cursor.rowcount == 1

    def leave(self, member_id: str) -> None:
        self.remove_members([member_id])

    def members(self) -> list[Member]:
        with self._db.transaction(write=False, doing="read members") as conn:
            rows = conn.execute(f"SELECT {_MEMBER_COLUMNS} FROM members ORDER BY joined_ms, member_id").fetchall()
        return [_member(row) for row in rows]

    def remove_members(self, member_ids: Sequence[str]) -> None:
        if not member_ids:
            return
        with self._db.transaction(doing="remove members") as conn, conn.cursor() as cursor:
            # One row at a time in sorted order: the order fences lock them in.
            cursor.executemany("DELETE FROM members WHERE member_id = %s", [(m,) for m in sorted(set(member_ids))])

    # -- run leases ----------------------------------------------------------------------

    def acquire(self, member_id: str, run_ids: Sequence[str]) -> list[str]:
        held: list[str] = []
        with self._db.transaction(doing="acquire leases") as conn:
            conn.execute(_LOCK_LEASES, (LEASE_LOCK,))
            check_fence(conn, member_id)
            if not run_ids:
                return held
            seq = _max_seq(conn)
            owners = dict(
                conn.execute(
                    "SELECT l.run_id, m.member_id FROM run_leases l LEFT JOIN members m ON m.member_id = l.owner"
                    " WHERE l.run_id = ANY(%s)",
                    (list(run_ids),),
                ).fetchall()
            )
            taken: list[tuple[str, str, int]] = []
            for run_id in run_ids:
                owner = owners.get(run_id)
                if owner is None:
                    seq += 1
                    taken.append((run_id, member_id, seq))
                    held.append(run_id)
                elif owner == member_id:
                    held.append(run_id)
            if taken:
                with conn.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO run_leases (run_id, owner, seq) VALUES (%s, %s, %s)"
                        " ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, seq = excluded.seq",
                        taken,
                    )
        return held

    def offer(self, run_ids: Sequence[str]) -> None:
        if not run_ids:
            return
        with self._db.transaction(doing="offer leases") as conn:
            conn.execute(_LOCK_LEASES, (LEASE_LOCK,))
            seq = _max_seq(conn)
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO run_leases (run_id, owner, seq) VALUES (%s, NULL, %s) ON CONFLICT DO NOTHING",
                    [(run_id, seq + i + 1) for i, run_id in enumerate(run_ids)],
                )

    def lease_counts(self) -> dict[str, int]:
        with self._db.transaction(write=False, doing="count leases") as conn:
            rows = conn.execute(
                "SELECT l.owner, count(*) FROM run_leases l JOIN members m ON m.member_id = l.owner GROUP BY l.owner"
            ).fetchall()
        return {owner: int(count) for owner, count in rows}

    def orphaned_runs(self, limit: int) -> list[str]:
        with self._db.transaction(write=False, doing="read leases") as conn:
            rows = conn.execute(
                "SELECT l.run_id FROM run_leases l LEFT JOIN members m ON m.member_id = l.owner"
                " WHERE m.member_id IS NULL ORDER BY l.seq LIMIT %s",
                (max(limit, 0),),
            ).fetchall()
        return [run_id for (run_id,) in rows]

    def release(self, member_id: str, run_ids: Sequence[str]) -> None:
        if not run_ids:
            return
        runs = list(run_ids)
        with self._db.transaction(doing="release leases") as conn:
            conn.execute(_LOCK_LEASES, (LEASE_LOCK,))
            # Claims first, while the leases still say which runs are the caller's.
            conn.execute(
                "DELETE FROM claims WHERE run_id = ANY(%s)"
                " AND run_id IN (SELECT run_id FROM run_leases WHERE owner = %s)",
                (runs, member_id),
            )
            conn.execute("DELETE FROM run_leases WHERE run_id = ANY(%s) AND owner = %s", (runs, member_id))

    def lease(self, run_id: str) -> RunLease | None:
        with self._db.transaction(write=False, doing="read a lease") as conn:
            row = conn.execute(
                f"SELECT {', '.join('m.' + c for c in _MEMBER_COLUMNS.split(', '))} FROM run_leases l"
                " LEFT JOIN members m ON m.member_id = l.owner WHERE l.run_id = %s",
                (run_id,),
            ).fetchone()
        if row is None:
            return None
        return RunLease(run_id, None if row[0] is None else _member(row))

    # -- claims --------------------------------------------------------------------------

    def claim(self, claim: Claim) -> bool:
        return self.claim_many([claim])[0]

    def claim_many(self, claims: Sequence[Claim]) -> list[bool]:
        if not claims:
            return []
        with self._db.transaction(doing="claim") as conn:
            return insert_claims(conn, claims)

    def claims(self, run_id: str) -> list[Claim]:
        with self._db.transaction(write=False, doing="read claims") as conn:
            rows = conn.execute(
                f"SELECT {_CLAIM_COLUMNS} FROM claims WHERE run_id = %s AND held ORDER BY claim_order", (run_id,)
            ).fetchall()
        return [Claim(*row) for row in rows]

    def dead_claims(self, owner_id: str) -> list[Claim]:
        with self._db.transaction(write=False, doing="read claims") as conn:
            rows = conn.execute(
                f"SELECT {', '.join('c.' + c for c in _CLAIM_COLUMNS.split(', '))} FROM claims c"
                " JOIN run_leases l ON l.run_id = c.run_id"
                " LEFT JOIN members m ON m.member_id = c.member_id"
                " WHERE l.owner = %s AND c.held AND m.member_id IS NULL ORDER BY c.claim_order",
                (owner_id,),
            ).fetchall()
        return [Claim(*row) for row in rows]

    def drop_claims(self, assignment_ids: Sequence[str]) -> None:
        if not assignment_ids:
            return
        with self._db.transaction(doing="settle claims") as conn:
            conn.execute("UPDATE claims SET held = FALSE WHERE assignment_id = ANY(%s)", (list(assignment_ids),))


def _max_seq(conn: Connection) -> int:
    row = conn.execute("SELECT coalesce(max(seq), 0) FROM run_leases").fetchone()
    return int(row[0]) if row is not None else 0


__all__ = ["LEASE_LOCK", "PostgresCoordination", "check_fence"]
