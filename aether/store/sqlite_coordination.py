"""Members, run leases and claims in the SQLite file of the log (tables of migration 2).

Every call is one transaction on the log's own connection (``BEGIN IMMEDIATE`` for
writes), so a takeover, a claim and a fenced append are serialized by SQLite's write lock
across every process that opens the file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol

from aether.store.coordination import Claim, Fenced, Member, RunLease, claim_row

_MEMBER_COLUMNS = "member_id, role, host, pid, joined_ms, expires_ms, locality"
_CLAIM_COLUMNS = "assignment_id, run_id, node_id, attempt, worker_id, member_id, claimed_ms"
_MAX_PARAMS = 500


class Transactions(Protocol):
    def transaction(
        self, *, write: bool = True, doing: str = "write"
    ) -> contextlib.AbstractContextManager[sqlite3.Connection]: ...


def check_fence(conn: sqlite3.Connection, member_id: str) -> None:
    """Raise :class:`Fenced` unless ``member_id`` is registered (inside the caller's transaction)."""
    if conn.execute("SELECT 1 FROM members WHERE member_id = ?", (member_id,)).fetchone() is None:
        raise Fenced(member_id)


def insert_claims(conn: sqlite3.Connection, claims: Sequence[Claim]) -> list[bool]:
    """Claim each of ``claims`` inside the caller's transaction, after checking that its
    members are registered; True for each claim that was not taken before."""
    for member_id in sorted({claim.member_id for claim in claims}):
        check_fence(conn, member_id)
    return [
        conn.execute(
            f"INSERT OR IGNORE INTO claims ({_CLAIM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", claim_row(claim)
        ).rowcount
        == 1
        for claim in claims
    ]


def _member(row: Any) -> Member:
    member_id, role, host, pid, joined_ms, expires_ms, locality = row
    return Member(member_id, role, host, pid, joined_ms, expires_ms, locality)


class SqliteCoordination:
    def __init__(self, db: Transactions) -> None:
        self._db = db

    def join(self, member: Member) -> None:
        with self._db.transaction(doing="join") as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO members ({_MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
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
            cursor = conn.execute("UPDATE members SET expires_ms = ? WHERE member_id = ?", (expires_ms, member_id))
            return cursor.rowcount == 1

    def leave(self, member_id: str) -> None:
        self.remove_members([member_id])

    def members(self) -> list[Member]:
        with self._db.transaction(write=False, doing="read members") as conn:
            return [_member(row) for row in conn.execute(f"SELECT {_MEMBER_COLUMNS} FROM members ORDER BY joined_ms")]

    def remove_members(self, member_ids: Sequence[str]) -> None:
        if not member_ids:
            return
        with self._db.transaction(doing="remove members") as conn:
            conn.executemany("DELETE FROM members WHERE member_id = ?", [(m,) for m in member_ids])

    def acquire(self, member_id: str, run_ids: Sequence[str]) -> list[str]:
        held: list[str] = []
        with self._db.transaction(doing="acquire leases") as conn:
            check_fence(conn, member_id)
            (seq,) = conn.execute("SELECT coalesce(max(seq), 0) FROM run_leases").fetchone()
            for i in range(0, len(run_ids), _MAX_PARAMS):
                chunk = list(run_ids[i : i + _MAX_PARAMS])
                marks = ", ".join("?" * len(chunk))
                owners = dict(
                    conn.execute(
                        f"SELECT l.run_id, m.member_id FROM run_leases l LEFT JOIN members m ON m.member_id = l.owner"
                        f" WHERE l.run_id IN ({marks})",
                        chunk,
                    ).fetchall()
                )
                taken: list[tuple[str, str, int]] = []
                for run_id in chunk:
                    owner = owners.get(run_id)
                    if owner is None:
                        seq += 1
                        taken.append((run_id, member_id, seq))
                        held.append(run_id)
                    elif owner == member_id:
                        held.append(run_id)
                conn.executemany(
                    "INSERT INTO run_leases (run_id, owner, seq) VALUES (?, ?, ?)"
                    " ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, seq = excluded.seq",
                    taken,
                )
        return held

    def offer(self, run_ids: Sequence[str]) -> None:
        if not run_ids:
            return
        with self._db.transaction(doing="offer leases") as conn:
            (seq,) = conn.execute("SELECT coalesce(max(seq), 0) FROM run_leases").fetchone()
            conn.executemany(
                "INSERT OR IGNORE INTO run_leases (run_id, owner, seq) VALUES (?, NULL, ?)",
                [(run_id, seq + i + 1) for i, run_id in enumerate(run_ids)],
            )

    def lease_counts(self) -> dict[str, int]:
        with self._db.transaction(write=False, doing="count leases") as conn:
            rows = conn.execute(
                "SELECT l.owner, count(*) FROM run_leases l JOIN members m ON m.member_id = l.owner GROUP BY l.owner"
            ).fetchall()
        return {owner: count for owner, count in rows}

    def orphaned_runs(self, limit: int) -> list[str]:
        with self._db.transaction(write=False, doing="read leases") as conn:
            rows = conn.execute(
                "SELECT l.run_id FROM run_leases l LEFT JOIN members m ON m.member_id = l.owner"
                " WHERE m.member_id IS NULL ORDER BY l.seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [run_id for (run_id,) in rows]

    def release(self, member_id: str, run_ids: Sequence[str]) -> None:
        if not run_ids:
            return
        with self._db.transaction(doing="release leases") as conn:
            # Claims first, while the leases still say which runs are the caller's.
            mine = [(run_id, run_id, member_id) for run_id in run_ids]
            conn.executemany(
                "DELETE FROM claims WHERE run_id = ?"
                " AND EXISTS (SELECT 1 FROM run_leases WHERE run_id = ? AND owner = ?)",
                mine,
            )
            conn.executemany(
                "DELETE FROM run_leases WHERE run_id = ? AND owner = ?", [(run_id, member_id) for run_id in run_ids]
            )

    def lease(self, run_id: str) -> RunLease | None:
        with self._db.transaction(write=False, doing="read a lease") as conn:
            row = conn.execute("SELECT owner FROM run_leases WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                return None
            member = conn.execute(f"SELECT {_MEMBER_COLUMNS} FROM members WHERE member_id = ?", (row[0],)).fetchone()
        return RunLease(run_id, None if member is None else _member(member))

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
                f"SELECT {_CLAIM_COLUMNS} FROM claims WHERE run_id = ? AND held = 1 ORDER BY rowid",
                (run_id,),
            ).fetchall()
        return [Claim(*row) for row in rows]

    def dead_claims(self, owner_id: str) -> list[Claim]:
        with self._db.transaction(write=False, doing="read claims") as conn:
            rows = conn.execute(
                f"SELECT {', '.join('c.' + c for c in _CLAIM_COLUMNS.split(', '))} FROM claims c"
                " JOIN run_leases l ON l.run_id = c.run_id"
                " LEFT JOIN members m ON m.member_id = c.member_id"
                " WHERE l.owner = ? AND c.held = 1 AND m.member_id IS NULL ORDER BY c.rowid",
                (owner_id,),
            ).fetchall()
        return [Claim(*row) for row in rows]

    def drop_claims(self, assignment_ids: Sequence[str]) -> None:
        if not assignment_ids:
            return
        with self._db.transaction(doing="settle claims") as conn:
            conn.executemany("UPDATE claims SET held = 0 WHERE assignment_id = ?", [(a,) for a in assignment_ids])


__all__ = ["SqliteCoordination", "Transactions", "check_fence"]
