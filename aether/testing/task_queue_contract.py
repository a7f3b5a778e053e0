"""The ``TaskQueue`` contract (assignments and worker reports kept in the database;
aether/store/task_queue.py), as a test class an adapter's suite subclasses, in the manner of
:mod:`aether.testing.coordination_contract`.

A task queue lives beside an event log and its coordination rows, because taking a task
claims it in the same transaction: the contract opens its databases through the event-log
adapters of :mod:`aether.testing.adapters`, those named in :data:`TASK_QUEUE_ADAPTERS`. An
adapter whose logs keep a ``task_queue`` joins the contract by adding its name there.

Every process holds one connection to the database, so the concurrency checks open one log
object per taking thread, all on the same database. The times are plain epoch milliseconds
chosen by the test. This module imports pytest: import it from tests only.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Protocol, cast

import pytest

from aether.store.base import EventLog
from aether.store.coordination import Claim, Coordination, Fenced, Member
from aether.store.task_queue import QueuedReport, QueuedTask, TakenTask, TaskQueue, WorkerReport
from aether.testing.adapters import ADAPTERS, EventLogFactory

# The event-log adapters (by their registered names) whose logs keep a task queue.
TASK_QUEUE_ADAPTERS: list[str] = ["sqlite", "postgres"]

NOW_MS = 1_700_000_000_000
TTL_MS = 10_000
ENGINE = "engine-1"
WORKER_MEMBER = "worker-host-1"


class QueueLog(Protocol):
    """An event log that keeps a task queue and coordination rows beside its events."""

    @property
    def task_queue(self) -> TaskQueue: ...

    @property
    def coordination(self) -> Coordination: ...

    def close(self) -> None: ...


class QueueDatabase:
    """One database of an adapter, opened as many times as a test needs (each log object
    standing for one process's connection); every log is closed at teardown."""

    def __init__(self, factory: EventLogFactory) -> None:
        self._factory = factory
        self.first = self._checked(factory.new())
        self._directory: Path = factory.directory_of(cast(EventLog, self.first))
        self._others: list[EventLog] = []

    def another_connection(self) -> QueueLog:
        log = self._factory.adapter.open_log(self._directory, self._factory.clock)
        self._others.append(log)
        return self._checked(log)

    def close(self) -> None:
        for log in self._others:
            log.close()

    def _checked(self, log: EventLog) -> QueueLog:
        name = self._factory.adapter.name
        assert getattr(log, "task_queue", None) is not None, f"the {name} adapter's log keeps no task queue"
        assert isinstance(getattr(log, "coordination", None), Coordination), f"the {name} log keeps no coordination"
        return cast(QueueLog, log)


def member(member_id: str, role: str = "worker") -> Member:
    return Member(member_id, role, "host-1", 4242, NOW_MS, NOW_MS + TTL_MS, "boot-1/4026531836")


def queued(
    run_id: str,
    node_id: str = "main/a",
    attempt: int = 1,
    *,
    executor_type: str = "echo",
    priority: int = 0,
    payload: bytes | None = None,
) -> QueuedTask:
    """The assignment ``<run>:<node>#<attempt>``, its payload naming it unless given."""
    assignment_id = assignment_id_of(run_id, node_id, attempt)
    return QueuedTask(
        assignment_id,
        run_id,
        node_id,
        attempt,
        executor_type,
        priority,
        payload if payload is not None else assignment_id.encode(),
    )


def assignment_id_of(run_id: str, node_id: str = "main/a", attempt: int = 1) -> str:
    return f"{run_id}:{node_id}#{attempt}"


def report_of(task: QueuedTask, kind: str, payload: bytes | None = None) -> WorkerReport:
    return WorkerReport(task.run_id, task.assignment_id, kind, payload if payload is not None else kind.encode())


def ids(taken: Sequence[TakenTask]) -> list[str]:
    return [t.assignment_id for t in taken]


def take(
    queue: TaskQueue,
    executor_types: Collection[str] | None = None,
    limit: int = 100,
    *,
    member_id: str = WORKER_MEMBER,
    worker_id: str = f"{WORKER_MEMBER}-1",
) -> list[TakenTask]:
    return queue.take(member_id, worker_id, executor_types, limit, NOW_MS)


def reports_summary(found: Sequence[QueuedReport]) -> list[tuple[str, str, str, bytes]]:
    return [(r.run_id, r.assignment_id, r.kind, r.payload) for r in found]


class TaskQueueContract:
    """What every task queue promises. The ``queue_database`` fixture opens a fresh
    database of each adapter in :data:`TASK_QUEUE_ADAPTERS`, where the member ``engine-1``
    (an engine) and ``worker-host-1`` (a worker process) are registered."""

    @pytest.fixture(params=TASK_QUEUE_ADAPTERS)
    def queue_database(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QueueDatabase]:
        factory = EventLogFactory(ADAPTERS[request.param], tmp_path / "queue-logs")
        try:
            database = QueueDatabase(factory)
            try:
                database.first.coordination.join(member(ENGINE, "engine"))
                database.first.coordination.join(member(WORKER_MEMBER))
                yield database
            finally:
                database.close()
        finally:
            factory.close_all()

    @pytest.fixture
    def log(self, queue_database: QueueDatabase) -> QueueLog:
        return queue_database.first

    @pytest.fixture
    def queue(self, log: QueueLog) -> TaskQueue:
        return log.task_queue

    @pytest.fixture
    def coordination(self, log: QueueLog) -> Coordination:
        return log.coordination

    # -- taking: order and routing ------------------------------------------------------------

    def test_take_hands_out_the_best_priority_first_then_in_dispatch_order(self, queue: TaskQueue) -> None:
        tasks = [
            queued("run-1", "main/low", priority=-1),
            queued("run-1", "main/first"),
            queued("run-2", "main/urgent", priority=5),
            queued("run-1", "main/second"),
            queued("run-2", "main/urgent-too", priority=5),
        ]
        queue.enqueue(tasks[:3])
        queue.enqueue(tasks[3:])
        expected = [tasks[i].assignment_id for i in (2, 4, 1, 3, 0)]
        assert ids(take(queue, limit=2)) == expected[:2]
        assert ids(take(queue, limit=1)) == expected[2:3]
        assert ids(take(queue)) == expected[3:]
        assert take(queue) == []

    def test_a_taken_task_carries_its_payload(self, queue: TaskQueue) -> None:
        queue.enqueue([queued("run-1", payload=b"\x00\xffbytes as they were")])
        assert take(queue) == [TakenTask(assignment_id_of("run-1"), b"\x00\xffbytes as they were")]

    def test_take_hands_out_no_more_than_the_limit(self, queue: TaskQueue) -> None:
        queue.enqueue([queued("run-1", f"main/t{i}") for i in range(5)])
        assert take(queue, limit=0) == []
        assert len(take(queue, limit=2)) == 2
        assert len(take(queue, limit=10)) == 3

    def test_take_routes_by_executor_type(self, queue: TaskQueue) -> None:
        echo = queued("run-1", "main/echo", executor_type="echo")
        shell = queued("run-1", "main/shell", executor_type="shell")
        http = queued("run-1", "main/http", executor_type="http", priority=9)
        queue.enqueue([echo, shell, http])
        assert take(queue, set()) == [], "an empty set of types takes nothing"
        assert ids(take(queue, {"shell", "python"})) == [shell.assignment_id]
        assert take(queue, {"shell"}) == []
        assert ids(take(queue, None)) == [http.assignment_id, echo.assignment_id], "None takes any type"

    def test_a_worker_of_no_types_claims_nothing(self, queue: TaskQueue, coordination: Coordination) -> None:
        queue.enqueue([queued("run-1")])
        assert take(queue, frozenset()) == []
        assert coordination.claims("run-1") == []

    # -- taking claims ------------------------------------------------------------------------

    def test_take_claims_what_it_takes_for_the_worker_and_its_member(
        self, queue: TaskQueue, coordination: Coordination
    ) -> None:
        task = queued("run-1", "main/a", 3)
        queue.enqueue([task])
        assert ids(queue.take(WORKER_MEMBER, f"{WORKER_MEMBER}-7", None, 1, NOW_MS + 5)) == [task.assignment_id]
        assert coordination.claims("run-1") == [
            Claim(task.assignment_id, "run-1", "main/a", 3, f"{WORKER_MEMBER}-7", WORKER_MEMBER, NOW_MS + 5)
        ]

    def test_a_taken_task_is_never_taken_again(self, queue: TaskQueue, coordination: Coordination) -> None:
        coordination.join(member("worker-host-2"))
        queue.enqueue([queued("run-1")])
        assert len(take(queue)) == 1
        assert take(queue) == []
        assert take(queue, member_id="worker-host-2", worker_id="worker-host-2-1") == []
        assert [c.member_id for c in coordination.claims("run-1")] == [WORKER_MEMBER]

    def test_an_assignment_claimed_before_is_not_handed_out_when_queued_again(
        self, queue: TaskQueue, coordination: Coordination
    ) -> None:
        coordination.acquire(ENGINE, ["run-1"])
        task = queued("run-1")
        queue.enqueue([task])
        assert len(take(queue)) == 1
        queue.report([report_of(task, "result")], NOW_MS)  # its queue row goes
        queue.enqueue([task])  # a copy queued again (a takeover dispatching it once more)
        assert queue.waiting_count(ENGINE) == 1
        assert take(queue) == []
        assert queue.waiting_count(ENGINE) == 0, "the copy is dropped, not left waiting"
        assert [c.assignment_id for c in coordination.claims("run-1")] == [task.assignment_id]

    def test_a_claim_made_elsewhere_keeps_the_task_from_being_taken(
        self, queue: TaskQueue, coordination: Coordination
    ) -> None:
        task = queued("run-1")
        queue.enqueue([task])
        assert coordination.claim(Claim(task.assignment_id, "run-1", "main/a", 1, "engine-1-1", ENGINE, NOW_MS))
        assert take(queue) == []
        assert [c.member_id for c in coordination.claims("run-1")] == [ENGINE]

    @pytest.mark.parametrize("departure", ["never joined", "left", "removed"])
    def test_a_member_not_registered_is_fenced_and_takes_nothing(
        self, queue: TaskQueue, coordination: Coordination, departure: str
    ) -> None:
        coordination.acquire(ENGINE, ["run-1"])
        queue.enqueue([queued("run-1")])
        if departure == "left":
            coordination.leave(WORKER_MEMBER)
        elif departure == "removed":
            coordination.remove_members([WORKER_MEMBER])
        gone = "ghost" if departure == "never joined" else WORKER_MEMBER
        with pytest.raises(Fenced) as caught:
            take(queue, member_id=gone, worker_id=f"{gone}-1")
        assert caught.value.member_id == gone
        assert coordination.claims("run-1") == []
        assert queue.waiting_count(ENGINE) == 1
        coordination.join(member("worker-host-2"))
        assert ids(take(queue, member_id="worker-host-2", worker_id="worker-host-2-1")) == [assignment_id_of("run-1")]

    # -- cancelling ---------------------------------------------------------------------------

    def test_a_cancelled_assignment_is_never_taken_and_is_named_cancelled(self, queue: TaskQueue) -> None:
        kept, dropped = queued("run-1", "main/kept"), queued("run-1", "main/dropped", priority=3)
        queue.enqueue([kept, dropped])
        queue.cancel([dropped.assignment_id])
        assert ids(take(queue)) == [kept.assignment_id]
        assert take(queue) == []
        assert queue.cancelled([kept.assignment_id, dropped.assignment_id, "never-queued"]) == {dropped.assignment_id}

    def test_a_worker_running_an_assignment_sees_its_cancellation(self, queue: TaskQueue) -> None:
        task = queued("run-1")
        queue.enqueue([task])
        assert len(take(queue)) == 1
        assert queue.cancelled([task.assignment_id]) == set()
        queue.cancel([task.assignment_id])
        assert queue.cancelled([task.assignment_id]) == {task.assignment_id}

    def test_cancelling_nothing_or_what_was_never_queued_is_harmless(self, queue: TaskQueue) -> None:
        queue.enqueue([queued("run-1")])
        queue.cancel([])
        queue.cancel(["never-queued"])
        assert queue.cancelled(["never-queued"]) == set()
        assert queue.cancelled([]) == set()
        assert ids(take(queue)) == [assignment_id_of("run-1")]

    def test_cancelled_answers_for_many_assignments_at_once(self, queue: TaskQueue) -> None:
        tasks = [queued("run-1", f"main/t{i}") for i in range(1200)]
        queue.enqueue(tasks)
        chosen = {t.assignment_id for t in tasks[::3]}
        queue.cancel(sorted(chosen))
        assert queue.cancelled([t.assignment_id for t in tasks]) == chosen

    # -- enqueueing ---------------------------------------------------------------------------

    def test_enqueue_of_an_assignment_already_queued_changes_nothing(self, queue: TaskQueue) -> None:
        first = queued("run-1", priority=0, payload=b"first")
        queue.enqueue([first, queued("run-1", "main/b", priority=1)])
        queue.enqueue([queued("run-1", priority=9, payload=b"second")])
        queue.enqueue([])
        taken = take(queue)
        assert [(t.assignment_id, t.payload) for t in taken] == [
            (assignment_id_of("run-1", "main/b"), assignment_id_of("run-1", "main/b").encode()),
            (first.assignment_id, b"first"),
        ]

    def test_enqueue_of_an_assignment_taken_already_changes_nothing(self, queue: TaskQueue) -> None:
        task = queued("run-1")
        queue.enqueue([task])
        assert len(take(queue)) == 1
        queue.cancel([task.assignment_id])
        queue.enqueue([task])
        assert take(queue) == []
        assert queue.cancelled([task.assignment_id]) == {task.assignment_id}, "the row is the same, still cancelled"

    # -- reports ------------------------------------------------------------------------------

    @pytest.mark.parametrize("kind", ["result", "lost"])
    def test_a_report_that_ends_the_assignment_removes_its_queue_row(self, queue: TaskQueue, kind: str) -> None:
        task = queued("run-1")
        queue.enqueue([task])
        assert len(take(queue)) == 1
        queue.cancel([task.assignment_id])  # the mark lives on the queue row
        queue.report([report_of(task, kind)], NOW_MS)
        assert queue.cancelled([task.assignment_id]) == set()

    def test_a_start_report_leaves_the_queue_row(self, queue: TaskQueue) -> None:
        task = queued("run-1")
        queue.enqueue([task])
        assert len(take(queue)) == 1
        queue.cancel([task.assignment_id])
        queue.report([report_of(task, "started")], NOW_MS)
        assert queue.cancelled([task.assignment_id]) == {task.assignment_id}

    def test_a_lost_report_of_a_task_never_taken_removes_it_from_the_waiting(
        self, queue: TaskQueue, coordination: Coordination
    ) -> None:
        coordination.acquire(ENGINE, ["run-1"])
        task, other = queued("run-1", "main/a"), queued("run-1", "main/b")
        queue.enqueue([task, other])
        queue.report([report_of(task, "lost")], NOW_MS)
        assert queue.waiting_count(ENGINE) == 1
        assert ids(take(queue)) == [other.assignment_id]

    def test_reports_are_read_by_the_runs_owner_only_oldest_first(
        self, queue: TaskQueue, coordination: Coordination
    ) -> None:
        coordination.join(member("engine-2", "engine"))
        coordination.acquire(ENGINE, ["run-1", "run-3"])
        coordination.acquire("engine-2", ["run-2"])
        one, two, three = queued("run-1"), queued("run-2"), queued("run-3")
        queue.report([report_of(one, "started"), report_of(two, "started")], NOW_MS)
        queue.report([report_of(three, "started"), report_of(one, "result", b'{"code":0}')], NOW_MS + 1)
        queue.report([report_of(queued("run-unleased"), "result")], NOW_MS + 2)
        found = queue.reports_for(ENGINE, 10)
        assert reports_summary(found) == [
            ("run-1", one.assignment_id, "started", b"started"),
            ("run-3", three.assignment_id, "started", b"started"),
            ("run-1", one.assignment_id, "result", b'{"code":0}'),
        ]
        assert [r.report_id for r in found] == sorted(r.report_id for r in found)
        assert len({r.report_id for r in found}) == 3
        assert reports_summary(queue.reports_for("engine-2", 10)) == [
            ("run-2", two.assignment_id, "started", b"started")
        ]
        assert queue.reports_for("nobody", 10) == []

    def test_reports_for_returns_no_more_than_the_limit_oldest_first(
        self, queue: TaskQueue, coordination: Coordination
    ) -> None:
        coordination.acquire(ENGINE, ["run-1"])
        tasks = [queued("run-1", f"main/t{i}") for i in range(5)]
        for i, task in enumerate(tasks):
            queue.report([report_of(task, "started")], NOW_MS + i)
        assert [r.assignment_id for r in queue.reports_for(ENGINE, 2)] == [t.assignment_id for t in tasks[:2]]
        assert len(queue.reports_for(ENGINE, 5)) == 5
        assert queue.reports_for(ENGINE, 0) == []

    def test_reports_written_together_are_read_in_the_order_they_were_given(
        self, queue: TaskQueue, coordination: Coordination
    ) -> None:
        # One group commit holds starts and results of many tasks of several runs: a start
        # read after its result would be recorded as a duplicate and its result's start lost.
        runs = [f"run-{i}" for i in range(4)]
        coordination.acquire(ENGINE, runs)
        tasks = [queued(runs[i % 4], f"main/t{i}") for i in range(60)]
        written = [report_of(task, kind) for task in tasks for kind in ("started", "result")]
        queue.report(written, NOW_MS)
        read = queue.reports_for(ENGINE, 1000)
        assert [(r.assignment_id, r.kind) for r in read] == [(w.assignment_id, w.kind) for w in written]

    def test_reports_stay_until_acknowledged_and_follow_the_runs_lease(
        self, queue: TaskQueue, coordination: Coordination
    ) -> None:
        coordination.join(member("engine-2", "engine"))
        coordination.acquire(ENGINE, ["run-1"])
        queue.report([report_of(queued("run-1"), "result")], NOW_MS)
        read_once = queue.reports_for(ENGINE, 10)
        assert queue.reports_for(ENGINE, 10) == read_once, "reading acknowledges nothing"
        # The owner died before recording them: the run's next owner reads them.
        coordination.remove_members([ENGINE])
        assert coordination.acquire("engine-2", ["run-1"]) == ["run-1"]
        assert queue.reports_for("engine-2", 10) == read_once

    def test_acknowledge_deletes_exactly_the_reports_named(self, queue: TaskQueue, coordination: Coordination) -> None:
        coordination.acquire(ENGINE, ["run-1"])
        tasks = [queued("run-1", f"main/t{i}") for i in range(3)]
        queue.report([report_of(t, "started") for t in tasks], NOW_MS)
        first, second, third = queue.reports_for(ENGINE, 10)
        queue.acknowledge([first.report_id, third.report_id])
        assert queue.reports_for(ENGINE, 10) == [second]
        queue.acknowledge([])
        queue.acknowledge([first.report_id, 10**9])  # again, or never written: harmless
        assert queue.reports_for(ENGINE, 10) == [second]
        queue.acknowledge([second.report_id])
        assert queue.reports_for(ENGINE, 10) == []

    def test_a_report_id_is_never_given_again(self, queue: TaskQueue, coordination: Coordination) -> None:
        # An engine acknowledges by id what it read earlier: an id given again would name a
        # report it never read.
        coordination.acquire(ENGINE, ["run-1"])
        queue.report([report_of(queued("run-1", "main/a"), "started")], NOW_MS)
        (first,) = queue.reports_for(ENGINE, 10)
        queue.acknowledge([first.report_id])
        queue.report([report_of(queued("run-1", "main/b"), "started")], NOW_MS)
        (second,) = queue.reports_for(ENGINE, 10)
        assert second.report_id > first.report_id

    def test_acknowledging_a_report_of_a_forgotten_run_deletes_no_later_report(
        self, queue: TaskQueue, coordination: Coordination
    ) -> None:
        # The engine records a run's last result, the run finishes and is forgotten, and a
        # worker reports about another run before the engine acknowledges what it read.
        coordination.acquire(ENGINE, ["run-1", "run-2"])
        queue.report([report_of(queued("run-1"), "result")], NOW_MS)
        read = queue.reports_for(ENGINE, 10)
        queue.forget_runs(["run-1"])
        queue.report([report_of(queued("run-2"), "result")], NOW_MS)
        queue.acknowledge([r.report_id for r in read])
        assert reports_summary(queue.reports_for(ENGINE, 10)) == [
            ("run-2", assignment_id_of("run-2"), "result", b"result")
        ]

    # -- waiting and finished runs ------------------------------------------------------------

    def test_waiting_count_counts_the_owners_queued_tasks_not_taken_nor_cancelled(
        self, queue: TaskQueue, coordination: Coordination
    ) -> None:
        coordination.join(member("engine-2", "engine"))
        coordination.acquire(ENGINE, ["run-1"])
        coordination.acquire("engine-2", ["run-2"])
        assert queue.waiting_count(ENGINE) == 0
        queue.enqueue([queued("run-1", f"main/t{i}", executor_type="shell") for i in range(4)])
        queue.enqueue([queued("run-2"), queued("run-unleased")])
        assert queue.waiting_count(ENGINE) == 4
        assert queue.waiting_count("engine-2") == 1
        assert len(take(queue, {"shell"}, limit=1)) == 1
        queue.cancel([assignment_id_of("run-1", "main/t3")])
        assert queue.waiting_count(ENGINE) == 2
        assert queue.waiting_count("nobody") == 0

    def test_forget_runs_drops_the_queue_rows_and_reports_of_those_runs_only(
        self, queue: TaskQueue, coordination: Coordination
    ) -> None:
        coordination.acquire(ENGINE, ["run-1", "run-2"])
        finished, going_on = queued("run-1"), queued("run-2")
        queue.enqueue([finished, going_on, queued("run-1", "main/b")])
        queue.report([report_of(finished, "started"), report_of(going_on, "started")], NOW_MS)
        queue.cancel([finished.assignment_id])
        queue.forget_runs([])
        queue.forget_runs(["run-1"])
        assert queue.waiting_count(ENGINE) == 1
        assert queue.cancelled([finished.assignment_id]) == set()
        assert [r.run_id for r in queue.reports_for(ENGINE, 10)] == ["run-2"]
        assert ids(take(queue)) == [going_on.assignment_id]

    def test_forgetting_a_run_leaves_its_running_tasks_marked_cancelled_for_their_workers(
        self, queue: TaskQueue, coordination: Coordination
    ) -> None:
        # A run cancelled while a worker runs one of its tasks finishes at once: its
        # cancellations and its forgetting are written together, and the worker must still
        # learn that it should stop.
        coordination.acquire(ENGINE, ["run-1"])
        running, waiting = queued("run-1", "main/a", priority=1), queued("run-1", "main/b")
        queue.enqueue([running, waiting])
        assert ids(take(queue, limit=1)) == [running.assignment_id]
        queue.cancel([running.assignment_id, waiting.assignment_id])
        queue.forget_runs(["run-1"])
        assert queue.cancelled([running.assignment_id, waiting.assignment_id]) == {running.assignment_id}
        assert queue.waiting_count(ENGINE) == 0
        assert take(queue) == []
        queue.report([report_of(running, "result")], NOW_MS)  # the worker stopped it
        assert queue.cancelled([running.assignment_id]) == set()

    def test_forgetting_a_run_marks_its_running_tasks_cancelled_even_unasked(self, queue: TaskQueue) -> None:
        task = queued("run-1")
        queue.enqueue([task])
        assert len(take(queue)) == 1
        queue.forget_runs(["run-1"])
        assert queue.cancelled([task.assignment_id]) == {task.assignment_id}

    def test_a_report_about_a_run_without_a_lease_is_not_kept(
        self, queue: TaskQueue, coordination: Coordination
    ) -> None:
        # The run finished and its owner released it: no engine would ever read the report.
        coordination.acquire(ENGINE, ["run-1"])
        coordination.release(ENGINE, ["run-1"])
        task = queued("run-1")
        queue.enqueue([task])
        assert len(take(queue)) == 1
        queue.cancel([task.assignment_id])
        queue.report([report_of(task, "started"), report_of(task, "result")], NOW_MS)
        assert queue.cancelled([task.assignment_id]) == set(), "the result still ends the assignment"
        coordination.acquire(ENGINE, ["run-1"])  # leased again, it shows that nothing was kept
        assert queue.reports_for(ENGINE, 10) == []

    # -- several processes --------------------------------------------------------------------

    def test_a_task_queued_by_one_connection_is_taken_through_another(self, queue_database: QueueDatabase) -> None:
        engine_side, worker_side = queue_database.first, queue_database.another_connection()
        engine_side.coordination.acquire(ENGINE, ["run-1"])
        task = queued("run-1")
        engine_side.task_queue.enqueue([task])
        assert ids(take(worker_side.task_queue)) == [task.assignment_id]
        worker_side.task_queue.report([report_of(task, "result")], NOW_MS)
        assert reports_summary(engine_side.task_queue.reports_for(ENGINE, 10)) == [
            ("run-1", task.assignment_id, "result", b"result")
        ]
        assert [c.worker_id for c in engine_side.coordination.claims("run-1")] == [f"{WORKER_MEMBER}-1"]

    TAKERS = 8
    TASKS = 200

    def test_concurrent_takers_take_every_task_exactly_once(self, queue_database: QueueDatabase) -> None:
        engine_side = queue_database.first
        types = ("echo", "shell")
        tasks = [
            queued(f"run-{i % 7}", f"main/t{i}", executor_type=types[i % 2], priority=i % 3) for i in range(self.TASKS)
        ]
        engine_side.task_queue.enqueue(tasks)
        connections = [queue_database.another_connection() for _ in range(self.TAKERS)]
        for n in range(self.TAKERS):
            engine_side.coordination.join(member(f"taker-{n}"))
        taken: list[list[str]] = [[] for _ in range(self.TAKERS)]
        failures: list[BaseException] = []
        start = threading.Barrier(self.TAKERS)

        def taker(n: int) -> None:
            queue = connections[n].task_queue
            try:
                start.wait()
                while batch := queue.take(f"taker-{n}", f"taker-{n}-{len(taken[n])}", None, 1 + n % 3, NOW_MS):
                    taken[n].extend(ids(batch))
            except BaseException as exc:  # reported below, from the test's thread
                failures.append(exc)

        threads = [threading.Thread(target=taker, args=(n,)) for n in range(self.TAKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads), "a taker is stuck"
        assert failures == []
        everything = [assignment_id for per_taker in taken for assignment_id in per_taker]
        assert len(everything) == len(set(everything)), "a task was taken twice"
        assert sorted(everything) == sorted(t.assignment_id for t in tasks)
        claims = [c for run in range(7) for c in engine_side.coordination.claims(f"run-{run}")]
        claimed_by = {c.assignment_id: c.member_id for c in claims}
        assert claimed_by == {a: f"taker-{n}" for n, per_taker in enumerate(taken) for a in per_taker}


__all__ = ["TASK_QUEUE_ADAPTERS", "QueueDatabase", "QueueLog", "TaskQueueContract"]
