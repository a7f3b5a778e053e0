"""Several engine processes on one log, as the stateful engine test drives them.

Each "serve" is an ``Engine`` with its own in-process broker and member id, driven with
``pump`` on the test's thread and a ``FakeClock`` (ARCHITECTURE rules 4, 6 and 9). What a
started engine's threads would do by themselves is done here on request: its keeper
renews its registration (:meth:`Cluster.keep_alive`), its loop reads what other writers
appended and processes its reports and timers (:meth:`Cluster.settle`) and runs the
housekeeping round (:meth:`Cluster.housekeeping`).

A worker may run in a process of its own: such a process joins as a member only to claim
assignments, and its death makes its claims dead (:meth:`Cluster.replace_worker_process`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count

from attrs import frozen

from aether.events.assignment import TaskAssignment
from aether.events.times import datetime_to_ms
from aether.runtime.broker import LocalBroker
from aether.runtime.clock import FakeClock
from aether.runtime.engine import Engine
from aether.runtime.ownership import Ownership
from aether.store.coordination import Member
from aether.store.memory import InMemoryEventLog

LEASE_TTL = 5.0  # seconds: short, so that the machine lets leases lapse with small clock moves
LEASE_TTL_MS = int(LEASE_TTL * 1000)
HOUSEKEEPING_ROUNDS = 10  # each round leases at least one orphan; the machine has at most 3 runs


@dataclass(eq=False)
class Serve:
    """One engine process: its engine, the broker its workers fetch from, its member id."""

    engine: Engine
    broker: LocalBroker
    member_id: str

    @property
    def ownership(self) -> Ownership:
        ownership = self.engine.ownership
        assert ownership is not None, "every serve keeps run leases"
        return ownership


@frozen
class Work:
    """An assignment a worker claimed: the engine that handed it out and the member whose
    claim it holds (the engine itself, for its own workers, or a worker process)."""

    assignment: TaskAssignment
    fetched_from: str
    claimant: str
    worker_id: str


class Cluster:
    def __init__(self, log: InMemoryEventLog, clock: FakeClock, make_engine: Callable[[LocalBroker, str], Engine]):
        self.log = log
        self.clock = clock
        self.coordination = log.coordination
        self.make_engine = make_engine
        self.live: list[Serve] = []
        self.dead: list[Serve] = []  # never used again, except to see that they are fenced
        self._engine_numbers = count(1)
        self._worker_numbers = count(1)
        self.worker_process = self._join_worker_process()

    # --- membership -----------------------------------------------------------------------

    def start_serve(self) -> Serve:
        """A new engine process starts: it joins and recovers (as ``Engine.start`` does)."""
        member_id = f"engine-{next(self._engine_numbers)}"
        broker = LocalBroker(order="fifo")
        serve = Serve(self.make_engine(broker, member_id), broker, member_id)
        serve.engine.recover()
        self.live.append(serve)
        return serve

    def bury(self, serve: Serve) -> None:
        """The process is gone: the machine does not use its engine or broker again."""
        self.live.remove(serve)
        self.dead.append(serve)

    def _join_worker_process(self) -> str:
        now = self.now_ms()
        member_id = f"worker-process-{next(self._worker_numbers)}"
        self.coordination.join(Member(member_id, "worker", "worker-host", os.getpid(), now, now + LEASE_TTL_MS))
        return member_id

    def replace_worker_process(self) -> str:
        """The worker process dies (its registration is removed, as an engine that found it
        expired removes it) and another one starts; returns the dead member's id."""
        dead = self.worker_process
        self.coordination.remove_members([dead])
        self.worker_process = self._join_worker_process()
        return dead

    def keep_alive(self) -> None:
        """What the keeper threads of the live processes do while time passes: renew."""
        for serve in self.live:
            assert serve.ownership.renew(), f"{serve.member_id} was fenced while alive"
        assert self.coordination.renew(self.worker_process, self.now_ms() + LEASE_TTL_MS)

    def housekeeping(self) -> None:
        """Rounds of every live engine's housekeeping until no run is orphaned."""
        self.keep_alive()
        for _ in range(HOUSEKEEPING_ROUNDS):
            for serve in self.live:
                serve.engine.housekeeping()
                assert not serve.engine.fenced, f"{serve.member_id} was fenced while alive"
            if not self.coordination.orphaned_runs(1):
                return
        raise AssertionError(f"runs stay orphaned: {self.coordination.orphaned_runs(100)}")

    # --- driving --------------------------------------------------------------------------

    def settle(self) -> None:
        """Every live engine processes its reports and due timers and reads what the others
        appended, until none has anything left to do."""
        while True:
            moved = 0
            for serve in self.live:
                moved += serve.engine.pump()
                moved += serve.engine.absorb_foreign_events()
            if not moved:
                return

    def next_timer_due_ms(self) -> int | None:
        dues = [due for serve in self.live if (due := serve.engine.next_timer_due_ms()) is not None]
        return min(dues, default=None)

    # --- who is who -----------------------------------------------------------------------

    def serve(self, member_id: str) -> Serve | None:
        """The live process with this member id."""
        return next((serve for serve in self.live if serve.member_id == member_id), None)

    def owner_of(self, run_id: str) -> Serve | None:
        return next((serve for serve in self.live if serve.ownership.owns(run_id)), None)

    def now_ms(self) -> int:
        return datetime_to_ms(self.clock.now())


__all__ = ["LEASE_TTL", "LEASE_TTL_MS", "Cluster", "Serve", "Work"]
