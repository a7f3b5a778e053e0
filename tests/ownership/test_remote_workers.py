"""Engines that only decide and worker processes that only execute, meeting in the database's
task queue (ARCHITECTURE rules 6 and 9; SPEC §6.3 lost attempts, §14.1 worker rules, §15
``TaskBroker``).

Everything runs in this test process on one SQLite file, each party on its own connection
as separate processes would be: an engine with no workers of its own (``workers=0``),
driven by ``pump()`` and ``housekeeping()`` on the test's thread, and
:class:`~aether.runtime.worker_process.WorkerProcess` objects running real shell tasks on
their own threads. A worker "dies" the way its survivors see it: its registration is
removed (``declare_dead``'s rule, applied to a worker).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ownership_support import alive
from support.documents import dag, echo_task, shell_task, workflow

from aether.events import catalog as ev
from aether.events.compaction import expand
from aether.runtime.engine import Engine
from aether.runtime.executors import builtin_executors
from aether.runtime.worker_process import WorkerProcess
from aether.store.sqlite import SqliteEventLog

pytestmark = pytest.mark.spec("6.3", "14.1", "15")

WAIT_SECONDS = 10.0  # a bound on what takes well under a second here
ONCE_THEN_QUICKLY = 'if [ "$AETHER_ATTEMPT" = 1 ]; then {first}; fi; echo done'


class Cluster:
    """One database; the engine and the workers each hold their own connection to it."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self._logs: list[SqliteEventLog] = []
        self._workers: list[WorkerProcess] = []
        self._engines: list[Engine] = []
        self.engine = self.new_engine()

    def connection(self) -> SqliteEventLog:
        log = SqliteEventLog(self.db)
        self._logs.append(log)
        return log

    def new_engine(self) -> Engine:
        """An engine that decides only: every task goes through the queue."""
        log = self.connection()
        engine = Engine(log, workers=0, drives="all", task_queue=log.task_queue)
        engine.recover()  # joins, and takes up the runs nobody holds
        self._engines.append(engine)
        return engine

    def worker(self, *, executor_types: set[str] | None = None, lease_ttl: float = 10.0) -> WorkerProcess:
        log = self.connection()
        process = WorkerProcess(
            log,
            log.coordination,
            log.task_queue,
            builtin_executors(),
            concurrency=2,
            executor_types=executor_types,
            lease_ttl=lease_ttl,
        )
        process.start()
        self._workers.append(process)
        self.engine.housekeeping()  # the engine knows the new member, so it sees it depart
        return process

    def drive(self, until: Callable[[], bool], what: str, *, engine: Engine | None = None) -> None:
        """Pump the engine until ``until()`` holds."""
        engine = engine or self.engine
        give_up = time.monotonic() + WAIT_SECONDS
        while not until():
            assert time.monotonic() < give_up, f"timed out waiting for {what}"
            engine.pump()
            time.sleep(0.01)

    def finish(self, run_ids: list[str], *, engine: Engine | None = None) -> None:
        engine = engine or self.engine
        self.drive(lambda: all(engine.get_state(r).terminal for r in run_ids), "the runs to finish", engine=engine)

    def close(self) -> None:
        for process in self._workers:
            process.stop(0)
        for engine in self._engines:
            engine.stop(0)
        for log in self._logs:
            log.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path / "aether.db")
    try:
        yield made
    finally:
        made.close()


def recorded(engine: Engine, run_id: str, kind: type[ev.Event]) -> list[ev.Event]:
    """The run's events of ``kind``, compact records (SPEC §6.6.1) read as what they carry."""
    return [event for _seq, record in engine.events(run_id) for event in expand(record) if isinstance(event, kind)]


def starts(engine: Engine, run_id: str) -> list[ev.TaskStarted]:
    return [e for e in recorded(engine, run_id, ev.TaskStarted) if isinstance(e, ev.TaskStarted)]


def losses(engine: Engine, run_id: str) -> list[ev.AttemptLost]:
    return [e for e in recorded(engine, run_id, ev.AttemptLost) if isinstance(e, ev.AttemptLost)]


def started(engine: Engine, run_id: str, node_id: str, attempt: int) -> ev.TaskStarted | None:
    return next((e for e in starts(engine, run_id) if (e.node_id, e.attempt) == (node_id, attempt)), None)


def phase(engine: Engine, run_id: str) -> str:
    return str(engine.get_state(run_id).phase)


def node_attempts(engine: Engine, run_id: str, node_id: str) -> list[tuple[int, str]]:
    """(attempt, reason) of each dispatch of the node."""
    return [
        (e.attempt, e.reason)
        for e in recorded(engine, run_id, ev.TaskDispatched)
        if isinstance(e, ev.TaskDispatched) and e.node_id == node_id
    ]


def member_of(engine: Engine) -> str:
    assert engine.ownership is not None
    return engine.ownership.member_id


def declare_worker_dead(engine: Engine, worker: WorkerProcess) -> None:
    """What the survivors see once a worker's process is gone: its registration removed."""
    assert engine.ownership is not None
    engine.ownership.coordination.remove_members([worker.member_id])


def reported_result(engine: Engine, run_id: str) -> bool:
    """Whether a worker's result about the run waits in the queue for the engine to read."""
    assert isinstance(engine.log, SqliteEventLog)
    waiting = engine.log.task_queue.reports_for(member_of(engine), 100)
    return any(r.kind == "result" and r.run_id == run_id for r in waiting)


def gone(pid: int) -> bool:
    return not alive(pid)


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    give_up = time.monotonic() + WAIT_SECONDS
    while not predicate():
        assert time.monotonic() < give_up, f"timed out waiting for {what}"
        time.sleep(0.02)


def pid_in(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text else None


# --- sharing the work --------------------------------------------------------------------------


def test_two_workers_run_every_task_of_ten_runs_an_engine_decides(cluster: Cluster) -> None:
    first, second = cluster.worker(), cluster.worker()
    document = workflow(
        "remote",
        dag(
            "main",
            shell_task("slow", "sleep 0.2; echo slow"),
            echo_task("left", dependencies=["slow"]),
            shell_task("right", "echo right", dependencies=["slow"]),
            echo_task("end", dependencies=["left", "right"]),
        ),
    )
    run_ids = [cluster.engine.submit(document).run_id for _ in range(10)]
    cluster.finish(run_ids)

    assert {run_id: phase(cluster.engine, run_id) for run_id in run_ids} == dict.fromkeys(run_ids, "Succeeded")
    threads = {worker_id: process for process in (first, second) for worker_id in process.pool.worker_ids}
    took: dict[str, int] = {first.member_id: 0, second.member_id: 0}
    for run_id in run_ids:
        recorded_starts = starts(cluster.engine, run_id)
        assert sorted((e.node_id, e.attempt) for e in recorded_starts) == [
            ("main/end", 1),
            ("main/left", 1),
            ("main/right", 1),
            ("main/slow", 1),
        ]
        for start in recorded_starts:
            assert start.worker_id in threads, f"{start.worker_id} is no thread of a worker process"
            took[threads[start.worker_id].member_id] += 1
        assert losses(cluster.engine, run_id) == []
    # Ten slow first tasks at once are more than one worker's two threads take.
    assert all(took.values()), took
    assert cluster.engine.broker.pending_count() == 0


def test_a_worker_takes_only_the_executor_types_it_runs(cluster: Cluster) -> None:
    shell_only = cluster.worker(executor_types={"shell"})
    document = workflow("routed", dag("main", shell_task("s", "echo s"), echo_task("e")))
    run_id = cluster.engine.submit(document).run_id
    cluster.drive(lambda: started(cluster.engine, run_id, "main/s", 1) is not None, "the shell task to start")
    time.sleep(0.3)  # several of the shell worker's polls of the queue
    cluster.engine.pump()
    assert started(cluster.engine, run_id, "main/e", 1) is None
    assert cluster.engine.broker.pending_count() == 1, "the echo task waits for a worker that runs echo"
    assert shell_only.running() == 0

    echo_only = cluster.worker(executor_types={"echo"})
    cluster.finish([run_id])
    assert phase(cluster.engine, run_id) == "Succeeded"
    by_node = {e.node_id: e.worker_id for e in starts(cluster.engine, run_id)}
    assert by_node["main/s"] in shell_only.pool.worker_ids
    assert by_node["main/e"] in echo_only.pool.worker_ids


# --- workers that go away ----------------------------------------------------------------------


def test_a_worker_stopped_at_once_reports_its_task_lost_and_another_runs_the_next_attempt(
    cluster: Cluster, tmp_path: Path
) -> None:
    pid_file = tmp_path / "sleeper.pid"
    stopping = cluster.worker()
    command = ONCE_THEN_QUICKLY.format(first=f"echo $$ > {pid_file}; sleep 30")
    run_id = cluster.engine.submit(workflow("stopped", dag("main", shell_task("t", command)))).run_id
    cluster.drive(lambda: started(cluster.engine, run_id, "main/t", 1) is not None, "attempt 1 to start")
    wait_until(lambda: pid_in(pid_file) is not None, "the task to write its pid")
    sleeper = pid_in(pid_file)
    assert sleeper is not None
    other = cluster.worker()

    assert stopping.stop(grace=0) is False, "the task was still running"
    wait_until(lambda: gone(sleeper), "the interrupted task's process to end")
    cluster.finish([run_id])

    assert phase(cluster.engine, run_id) == "Succeeded"
    first_start = started(cluster.engine, run_id, "main/t", 1)
    assert first_start is not None and first_start.worker_id in stopping.pool.worker_ids
    assert [(e.node_id, e.attempt, e.reason, e.worker_id, e.owner_id) for e in losses(cluster.engine, run_id)] == [
        ("main/t", 1, "worker-stopped", first_start.worker_id, stopping.member_id)
    ]
    second_start = started(cluster.engine, run_id, "main/t", 2)
    assert second_start is not None and second_start.worker_id in other.pool.worker_ids
    assert node_attempts(cluster.engine, run_id, "main/t") == [(1, "initial"), (2, "lost")]
    assert cluster.engine.get_state(run_id).node("main/t").retry_count == 0, "a lost attempt uses no retry"


def test_a_worker_declared_dead_is_fenced_its_task_stopped_and_the_next_attempt_runs(
    cluster: Cluster, tmp_path: Path
) -> None:
    pid_file = tmp_path / "sleeper.pid"
    doomed = cluster.worker(lease_ttl=1.5)  # renews, and so learns it was removed, twice a second
    command = ONCE_THEN_QUICKLY.format(first=f"echo $$ > {pid_file}; sleep 30")
    run_id = cluster.engine.submit(workflow("dead", dag("main", shell_task("t", command)))).run_id
    cluster.drive(lambda: started(cluster.engine, run_id, "main/t", 1) is not None, "attempt 1 to start")
    wait_until(lambda: pid_in(pid_file) is not None, "the task to write its pid")
    sleeper = pid_in(pid_file)
    assert sleeper is not None
    survivor = cluster.worker()

    declare_worker_dead(cluster.engine, doomed)
    cluster.engine.housekeeping()
    lost = losses(cluster.engine, run_id)
    assert [(e.node_id, e.attempt, e.reason, e.owner_id) for e in lost] == [
        ("main/t", 1, "claim-expired", doomed.member_id)
    ]
    cluster.finish([run_id])
    assert phase(cluster.engine, run_id) == "Succeeded"
    second_start = started(cluster.engine, run_id, "main/t", 2)
    assert second_start is not None and second_start.worker_id in survivor.pool.worker_ids

    wait_until(lambda: doomed.fenced, "the removed worker to learn it was fenced")
    wait_until(lambda: gone(sleeper), "the fenced worker's task process to end")
    wait_until(lambda: doomed.running() == 0, "the fenced worker's thread to let go of the task")
    assert doomed.broker.fetch("late", None, 0) is None, "a fenced worker takes nothing more"
    assert node_attempts(cluster.engine, run_id, "main/t") == [(1, "initial"), (2, "lost")]


def test_a_worker_that_reported_its_result_and_then_died_finished_its_attempt(cluster: Cluster) -> None:
    engine = cluster.engine
    worker = cluster.worker()
    run_id = engine.submit(workflow("reported", dag("main", shell_task("t", "echo finished")))).run_id
    # The engine does not pump: the worker's reports wait in the queue.
    wait_until(lambda: reported_result(engine, run_id), "the worker's result")
    declare_worker_dead(engine, worker)

    engine.housekeeping()  # finds the dead claim: records what was reported before judging it
    assert losses(engine, run_id) == []
    results = recorded(engine, run_id, ev.TaskResultReported)
    assert [(e.node_id, e.attempt, e.code) for e in results if isinstance(e, ev.TaskResultReported)] == [
        ("main/t", 1, 0)
    ]
    cluster.finish([run_id])
    assert phase(engine, run_id) == "Succeeded"
    assert node_attempts(engine, run_id, "main/t") == [(1, "initial")]


def test_cancelling_a_run_stops_its_task_on_the_worker_running_it(cluster: Cluster, tmp_path: Path) -> None:
    # The run ends Cancelled at once, so its cancellation and its forgetting reach the
    # queue together: the worker must still learn that it should stop the task.
    pid_file = tmp_path / "sleeper.pid"
    worker = cluster.worker()
    command = f"sleep 30 & echo $! > {pid_file}; wait"
    run_id = cluster.engine.submit(workflow("cancelled", dag("main", shell_task("t", command)))).run_id
    cluster.drive(lambda: started(cluster.engine, run_id, "main/t", 1) is not None, "the task to start")
    wait_until(lambda: pid_in(pid_file) is not None, "the task to write its pid")
    sleeper = pid_in(pid_file)
    assert sleeper is not None

    cluster.engine.cancel(run_id)
    cluster.engine.pump()
    assert phase(cluster.engine, run_id) == "Cancelled"
    wait_until(lambda: gone(sleeper), "the cancelled task's process to end")
    wait_until(lambda: worker.running() == 0, "the worker to let go of the task")
    # The task's row goes with its result (written by the worker's reporting thread), and
    # the result itself is not kept: nobody will read it.
    wait_until(lambda: rows_left(cluster.db) == (0, 0), "the queue to hold nothing of the run")


def rows_left(db: Path) -> tuple[int, int]:
    """(queue rows, reports) left in the database."""
    log = SqliteEventLog(db)
    try:
        with log.transaction(write=False) as conn:
            queued = conn.execute("SELECT count(*) FROM task_queue").fetchone()[0]
            reports = conn.execute("SELECT count(*) FROM task_reports").fetchone()[0]
    finally:
        log.close()
    return int(queued), int(reports)


# --- engines that go away ----------------------------------------------------------------------


def executions_task(name: str, executions: Path, *, dependencies: list[str] | None = None) -> dict[str, object]:
    return shell_task(name, f'echo "$AETHER_NODE_ID $AETHER_ATTEMPT" >> {executions}', dependencies=dependencies or [])


@pytest.mark.parametrize("recorded_first", [False, True], ids=["read-only", "recorded-not-acknowledged"])
def test_reports_an_engine_read_but_did_not_acknowledge_are_recorded_by_the_next_engine(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_first: bool
) -> None:
    executions = tmp_path / "executions"
    first = cluster.engine
    cluster.worker()
    document = workflow(
        "handover", dag("main", executions_task("a", executions), executions_task("b", executions, dependencies=["a"]))
    )
    run_id = first.submit(document).run_id
    wait_until(lambda: reported_result(first, run_id), "task a's result")
    if recorded_first:
        # Recorded, and the engine stopped before it acknowledged them.
        monkeypatch.setattr(first.broker, "acknowledge_reports", lambda: None)
        first.pump()
        assert [(e.node_id, e.attempt) for e in starts(first, run_id)] == [("main/a", 1)]
    else:
        # Read, and the engine stopped before it recorded them.
        assert {type(r).__name__ for r in first.broker.take_reports()} == {"TaskStartReport", "TaskResultReport"}
        assert starts(first, run_id) == []
    first.stop(0)

    second = cluster.new_engine()
    cluster.finish([run_id], engine=second)
    assert phase(second, run_id) == "Succeeded"
    assert sorted(executions.read_text().splitlines()) == ["main/a 1", "main/b 1"], "each task ran once"
    # Every report is decided on once: a report read again is recorded as an input that
    # changes nothing (InputIgnored, duplicate) right after it.
    decided = [e for e in recorded(second, run_id, ev.TaskResultRecorded) if isinstance(e, ev.TaskResultRecorded)]
    assert [(e.node_id, e.attempt) for e in decided] == [("main/a", 1), ("main/b", 1)]
    ignored = [
        (e.input_type, e.node_id, e.reason)
        for e in recorded(second, run_id, ev.InputIgnored)
        if isinstance(e, ev.InputIgnored)
    ]
    read_again = [("TaskStarted", "main/a", "duplicate"), ("TaskResultReported", "main/a", "duplicate")]
    assert ignored == (read_again if recorded_first else [])
    assert len(starts(second, run_id)) == (3 if recorded_first else 2)
    assert losses(second, run_id) == []
    assert node_attempts(second, run_id, "main/a") == [(1, "initial")]
