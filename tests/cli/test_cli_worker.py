"""``aether worker``: a process that only executes, taking tasks from the database's queue
while ``aether serve --workers 0`` only decides (ARCHITECTURE rule 9; SPEC §14.1 worker
rules, §15 ``TaskBroker``, §6.3 lost attempts). Real processes on one SQLite file, real
shell tasks, real signals.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.commands import aether_command
from support.documents import dag, shell_task, workflow

from aether.events import catalog as ev
from aether.events.codec import decode
from aether.events.streams import run_stream
from aether.store.sqlite import SqliteEventLog

pytestmark = pytest.mark.spec("6.3", "14.1", "15")

WIDE = {**os.environ, "COLUMNS": "200"}  # help text on one line per option
STOP_SECONDS = 20.0


def aether_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*aether_command(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env=WIDE,
    )


class Process:
    """An ``aether`` command running in the background, in a session of its own (a signal
    meant for the test runner's group stays away from it)."""

    def __init__(self, db: Path, name: str, *args: str) -> None:
        self.stderr_path = db.with_name(f"{name}.err")
        with self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [*aether_command(), *args, "--db", str(db)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def exit_code(self, timeout: float = STOP_SECONDS) -> int:
        return self.proc.wait(timeout)

    def kill_group(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


@contextlib.contextmanager
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in started:
            process.kill_group()


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def rows(db: Path, query: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        return list(conn.execute(query, parameters).fetchall())


def worker_members(db: Path) -> dict[int, str]:
    """pid -> member id of every registered worker process."""
    return {
        int(pid): str(member_id)
        for member_id, pid in rows(db, "SELECT member_id, pid FROM members WHERE role = 'worker'")
    }


def events_of(db: Path, run_id: str) -> list[ev.Event]:
    log = SqliteEventLog(db)
    try:
        return [decode(stored) for stored in log.read(run_stream(run_id))]
    finally:
        log.close()


def phases(db: Path) -> dict[str, str]:
    listed = aether_cli("list", "--json", "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    return {run["runId"]: run["phase"] for run in json.loads(listed.stdout)}


def submit(db: Path, document: Path, count: int = 1) -> list[str]:
    """``aether submit`` the document ``count`` times, the commands running at once."""
    procs = [
        subprocess.Popen(
            [*aether_command(), "submit", str(document), "--db", str(db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    run_ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        run_ids.append(out.strip())
    return run_ids


def finished(db: Path, run_id: str) -> bool:
    """Whether the run's end is recorded (read directly: cheap enough to poll)."""
    found = rows(
        db, "SELECT count(*) FROM events WHERE stream = ? AND type = 'WorkflowCompleted'", (run_stream(run_id),)
    )
    return bool(found[0][0])


def pid_alive(pid: int) -> bool:
    """Running and not a zombie (Linux: reads /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# --- refusals and help -------------------------------------------------------------------------


def test_an_unknown_executor_type_is_refused_naming_the_known_types(tmp_path: Path) -> None:
    db = tmp_path / "aether.db"
    SqliteEventLog(db).close()
    refused = aether_cli("worker", "--executors", "shell,nope", "--db", str(db))
    assert refused.returncode == 2, refused.stderr
    assert "unknown executor type(s) nope" in refused.stderr
    assert "known: await, echo, http, python, script, shell" in refused.stderr
    assert worker_members(db) == {}, "a refused worker never joined"


def test_a_worker_on_a_missing_database_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "missing.db"
    refused = aether_cli("worker", "--db", str(db))
    assert refused.returncode == 2
    assert f"no database at {db}" in refused.stderr
    assert not db.exists()


def test_worker_help_documents_its_options() -> None:
    shown = aether_cli("worker", "--help")
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.replace("│", " ").split())
    assert "Run tasks from the database's queue" in text
    for option in ("--concurrency", "--executors", "--grace", "--lease", "--secrets", "--db"):
        assert option in text, option
    assert "Comma-separated executor types this worker runs" in text
    assert "How long this worker stays registered without renewal" in text
    assert "--workers 0" in text, "it says which engines dispatch to it"


# --- serving with workers ----------------------------------------------------------------------


def test_a_deciding_serve_and_two_workers_finish_every_run_and_the_workers_leave_on_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "aether.db"
    document = tmp_path / "flow.json"
    document.write_text(
        json.dumps(
            workflow(
                "through-the-queue",
                dag(
                    "main",
                    shell_task("first", "echo first"),
                    shell_task("second", "sleep 0.2; echo second", dependencies=["first"]),
                    shell_task("third", "echo third", dependencies=["first"]),
                ),
            )
        )
    )
    run_ids = submit(db, document, 3)
    with processes() as started:
        workers = [Process(db, f"worker-{n}", "worker", "--concurrency", "2") for n in (1, 2)]
        started.extend(workers)
        assert wait_for(lambda: len(worker_members(db)) == 2), [w.stderr() for w in workers]
        serve = Process(db, "serve", "serve", "--workers", "0", "--until-idle")
        started.append(serve)
        assert serve.exit_code(60) == 0, serve.stderr()
        assert "deciding only" in serve.stderr()
        assert phases(db) == dict.fromkeys(run_ids, "Succeeded")

        members = worker_members(db)
        for worker in workers:
            worker.proc.terminate()
        for worker in workers:
            assert worker.exit_code() == 0, worker.stderr()
            assert f"aether: worker {members[worker.pid]} on {db}" in worker.stderr()
    assert worker_members(db) == {}, "the workers left the membership"
    starts = [e for run_id in run_ids for e in events_of(db, run_id) if isinstance(e, ev.TaskStarted)]
    assert len(starts) == 9
    assert all(any(e.worker_id.startswith(f"{member}-") for member in members.values()) for e in starts), [
        e.worker_id for e in starts
    ]


def test_a_killed_workers_task_dies_with_it_and_the_next_attempt_runs_on_another_worker(tmp_path: Path) -> None:
    db, pid_file = tmp_path / "aether.db", tmp_path / "sleep.pid"
    document = tmp_path / "flow.json"
    command = f'if [ "$AETHER_ATTEMPT" = 1 ]; then sleep 30 & echo $! > {pid_file}; wait; fi; echo done'
    document.write_text(json.dumps(workflow("killed", dag("main", shell_task("t", command)))))
    (run_id,) = submit(db, document)
    with processes() as started:
        serve = Process(db, "serve", "serve", "--workers", "0", "--lease", "2s")
        doomed = Process(db, "doomed", "worker", "--lease", "2s")
        started.extend([serve, doomed])
        assert wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != ""), doomed.stderr()
        sleeper = int(pid_file.read_text())
        assert pid_alive(sleeper)
        survivor = Process(db, "survivor", "worker", "--lease", "2s")
        started.append(survivor)
        assert wait_for(lambda: survivor.pid in worker_members(db)), survivor.stderr()
        doomed_member = worker_members(db)[doomed.pid]

        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.proc.wait()
        assert wait_for(lambda: not pid_alive(sleeper), 5.0), "the task process outlived its worker"
        assert wait_for(lambda: finished(db, run_id), 30.0), serve.stderr()
        assert phases(db) == {run_id: "Succeeded"}

        survivor_member = worker_members(db)[survivor.pid]
        serve.proc.terminate()
        survivor.proc.terminate()
        assert serve.exit_code() == 0, serve.stderr()
        assert survivor.exit_code() == 0, survivor.stderr()

    history = events_of(db, run_id)
    lost = [e for e in history if isinstance(e, ev.AttemptLost)]
    assert [(e.node_id, e.attempt, e.reason, e.owner_id) for e in lost] == [
        ("main/t", 1, "claim-expired", doomed_member)
    ]
    by_attempt = {e.attempt: e.worker_id for e in history if isinstance(e, ev.TaskStarted)}
    assert by_attempt[1].startswith(f"{doomed_member}-")
    assert by_attempt[2].startswith(f"{survivor_member}-")
    assert [(e.attempt, e.reason) for e in history if isinstance(e, ev.TaskDispatched)] == [(1, "initial"), (2, "lost")]
