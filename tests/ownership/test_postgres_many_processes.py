"""Many engines and many workers on one PostgreSQL database (ARCHITECTURE rules 4, 6 and 9):
two ``aether serve --workers 0`` processes decide, three ``aether worker`` processes execute,
and one of each is SIGKILLed while two dozen runs of shell tasks are under way.

What must hold afterwards:

- every run ends Succeeded: the killed engine's runs are taken over, and the killed
  worker's attempts are recorded lost and run again as their next attempts;
- every physical execution is a distinct recorded attempt (never two executions of one
  attempt, never an execution without its recorded start);
- no task process outlives the worker that was killed;
- ``aether replay --verify`` passes for every run;
- a cron both engines tick ran each scheduled time once.

Each task appends ``<run> <node> <attempt> <pid> <worker>`` to an executions file, as in
the SQLite ownership tests (``ownership_support``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from ownership_support import Execution, alive, executions, wait_for
from support.commands import aether_command
from support.documents import cron_workflow, dag, dag_task, echo_task, executor, workflow

from aether.events import catalog as ev
from aether.events.codec import decode
from aether.events.streams import run_stream
from aether.runtime.setup import postgres_engine
from aether.store.postgres import PostgresEventLog

pytestmark = pytest.mark.spec("6.3", "12.4", "14.1", "15")

RUNS = 24
LEASE = ("--lease", "2s")


class Process:
    """An ``aether`` process named ``name`` in its tasks' environment (``WORKER_NAME``)."""

    def __init__(self, directory: Path, name: str, *args: str) -> None:
        self.name = name
        self.stderr_path = directory / f"{name}.err"
        with self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [*aether_command(), *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env={**os.environ, "WORKER_NAME": name},
                start_new_session=True,
            )

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def ready(self, banner: str) -> bool:
        return banner in self.stderr() or self.proc.poll() is not None


@contextmanager
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in started:
            if process.proc.poll() is None:
                os.killpg(process.proc.pid, signal.SIGKILL)
            process.proc.wait()


def shell_task(name: str, executions_file: Path, seconds: float, *dependencies: str) -> dict[str, object]:
    command = (
        f'echo "$AETHER_RUN_ID $AETHER_NODE_ID $AETHER_ATTEMPT $$ $WORKER_NAME" >> {executions_file}; sleep {seconds}'
    )
    return dag_task(name, executor=executor("shell", command=command), dependencies=list(dependencies))


def write_run_documents(directory: Path, executions_file: Path) -> list[Path]:
    documents = []
    for i in range(RUNS):
        tasks = [
            shell_task("a", executions_file, 0.4),
            shell_task("b", executions_file, 2.5, "a"),
            shell_task("c", executions_file, 0.8, "a"),
            shell_task("d", executions_file, 1.0, "a"),
            shell_task("e", executions_file, 0.3, "b", "c", "d"),
        ]
        path = directory / f"run-{i}.json"
        path.write_text(json.dumps(workflow(f"many-{i}", dag("main", *tasks))))
        documents.append(path)
    return documents


def aether(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*aether_command(), *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def submit_all(url: str, documents: list[Path]) -> list[str]:
    """Record every run at once from this process (what ``aether submit`` does, without two
    dozen interpreters starting): the engines take them up as they read them."""
    engine = postgres_engine(url, workers=0, drives="none")
    try:
        return [engine.submit(document).run_id for document in documents]
    finally:
        engine.log.close()


def history(log: PostgresEventLog, run_id: str) -> list[ev.Event]:
    return [decode(stored) for stored in log.read(run_stream(run_id))]


def final_phase(log: PostgresEventLog, run_id: str) -> str:
    ends = [e for e in history(log, run_id) if isinstance(e, ev.WorkflowCompleted)]
    return str(ends[-1].phase) if ends else ""


def cron_events(log: PostgresEventLog) -> list[ev.Event]:
    return [decode(stored) for stream in log.streams("cron:") for stored in log.read(stream)]


@pytest.mark.timeout(480)  # it waits for a cron minute boundary, on a machine shared with the suite
def test_two_deciding_engines_and_three_workers_survive_the_loss_of_one_of_each(
    postgres_url: str, tmp_path: Path
) -> None:
    executions_file = tmp_path / "executions"
    documents = write_run_documents(tmp_path, executions_file)
    cron = tmp_path / "cron.json"
    cron.write_text(json.dumps(cron_workflow("every-minute", "* * * * *", dag("main", echo_task("tick")))))
    created = aether("cron", "create", str(cron), "--db", postgres_url)
    assert created.returncode == 0, created.stderr

    log = PostgresEventLog(postgres_url)
    with closing(log), processes() as started:
        engines = [
            Process(tmp_path, f"engine-{i}", "serve", "--db", postgres_url, "--workers", "0", *LEASE) for i in (1, 2)
        ]
        workers = [
            Process(tmp_path, f"worker-{i}", "worker", "--db", postgres_url, "--concurrency", "4", *LEASE)
            for i in (1, 2, 3)
        ]
        started.extend([*engines, *workers])
        for process in engines:
            assert wait_for(lambda p=process: p.ready("aether: serving"), 30), process.stderr()
        for process in workers:
            assert wait_for(lambda p=process: p.ready("aether: worker"), 30), process.stderr()
        assert all(p.proc.poll() is None for p in started), [p.stderr() for p in started]

        run_ids = submit_all(postgres_url, documents)
        victim_engine, victim_worker = engines[0], workers[0]

        def victim_busy() -> bool:
            mine = [e for e in executions(executions_file) if e.serve == victim_worker.name]
            return len(mine) >= 3 and any(alive(e.pid) for e in mine)

        # Killed while it runs tasks, so that some executions die with it.
        assert wait_for(victim_busy, 150, poll=0.05), (
            Counter(e.serve for e in executions(executions_file)),
            [(p.name, p.proc.poll(), p.stderr()[-2000:]) for p in started],
        )
        victim_engine.proc.send_signal(signal.SIGKILL)
        victim_worker.proc.send_signal(signal.SIGKILL)
        victim_engine.proc.wait(10)
        victim_worker.proc.wait(10)
        killed_at = time.monotonic()

        # No task process outlives the worker that ran it.
        orphans: list[Execution] = [e for e in executions(executions_file) if e.serve == victim_worker.name]
        assert wait_for(lambda: not any(alive(e.pid) for e in orphans), 10), [e for e in orphans if alive(e.pid)]

        assert wait_for(lambda: all(final_phase(log, run_id) for run_id in run_ids), 150), {
            run_id: final_phase(log, run_id) for run_id in run_ids if not final_phase(log, run_id)
        }
        recovered_in = time.monotonic() - killed_at

        # A cron tick the surviving engines processed after the loss (a minute boundary).
        def ticks_submitted() -> list[ev.CronRunSubmitted]:
            return [e for e in cron_events(log) if isinstance(e, ev.CronRunSubmitted) and e.trigger == "scheduled"]

        assert wait_for(lambda: len(ticks_submitted()) >= 1, 70), "no scheduled cron tick was processed"

        for process in (engines[1], workers[1], workers[2]):
            process.proc.send_signal(signal.SIGTERM)
        for process in (engines[1], workers[1], workers[2]):
            assert process.proc.wait(30) == 0, process.stderr()

        assert {run_id: final_phase(log, run_id) for run_id in run_ids} == dict.fromkeys(run_ids, "Succeeded")

        done = executions(executions_file)
        per_attempt = Counter(e.identity for e in done)
        assert [identity for identity, count in per_attempt.items() if count > 1] == [], "an attempt ran twice"
        # An execution is a recorded attempt: its start was recorded, or (a worker killed
        # before its start report was written) its claim was, and the loss of that claim
        # names the worker that held it.
        recorded = {
            (run_id, e.node_id, e.attempt)
            for run_id in run_ids
            for e in history(log, run_id)
            if isinstance(e, ev.TaskStarted) or (isinstance(e, ev.AttemptLost) and e.worker_id)
        }
        unrecorded = [e for e in done if e.run_id in run_ids and e.identity not in recorded]
        assert unrecorded == [], "an execution that is not a recorded attempt"
        assert {e.serve for e in done} == {"worker-1", "worker-2", "worker-3"}
        lost = [e for run_id in run_ids for e in history(log, run_id) if isinstance(e, ev.AttemptLost)]
        assert lost, "the killed worker's attempts were never recorded as lost"
        assert {e.reason for e in lost} <= {"claim-expired", "worker-stopped", "engine-stopped"}

        scheduled = Counter(e.scheduled_time for e in cron_events(log) if isinstance(e, ev.CronTicked))
        assert [time_ for time_, count in scheduled.items() if count > 1] == [], "a cron time was ticked twice"
        submitted = Counter(e.scheduled_time for e in ticks_submitted())
        assert [time_ for time_, count in submitted.items() if count > 1] == [], "a cron time ran twice"

    for run_id in run_ids:
        verified = aether("replay", run_id, "--verify", "--db", postgres_url)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    print(f"recovered from the loss of an engine and a worker in {recovered_in:.1f} s")
