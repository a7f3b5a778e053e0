"""Task processes die with their owner, and ``aether serve`` stops gracefully (ARCHITECTURE
rule 6): real ``aether serve`` processes, real shell tasks, real signals.

A SIGKILLed engine takes its task process groups with it; SIGTERM lets a running task
finish within ``--grace`` and records its result; a task still running when the grace is
over is terminated without a result, so the log holds its attempt as unfinished and the
next engine runs it again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from process_watch import alive, read_pid, wait_for
from support.commands import aether_command

from aether.events import catalog as ev
from aether.runtime.setup import sqlite_engine

AETHER = aether_command()
SERVE_READY = "aether: serving"
EventT = TypeVar("EventT", bound=ev.Event)
STOP_SECONDS = 15.0  # a generous bound on a stop that should take a second or two


def workflow(path: Path, command: str) -> Path:
    """A one-task workflow running ``command`` with ``/bin/sh -c``."""
    quoted = command.replace("'", "''")
    path.write_text(
        f"""
apiVersion: aether/v1
kind: Workflow
metadata: {{name: lifetime}}
spec:
  entrypoint: main
  templates:
    - dag:
        name: main
        tasks:
          - name: work
            executor: {{type: shell, config: {{command: '{quoted}'}}}}
"""
    )
    return path


def submit(db: Path, document: Path) -> str:
    done = subprocess.run(
        [*AETHER, "submit", str(document), "--db", str(db)], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


class Serve:
    """An ``aether serve`` process whose stderr goes to a file."""

    def __init__(self, db: Path, *args: str) -> None:
        self.stderr_path = db.with_name(f"serve-{time.monotonic_ns()}.err")
        with self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [*AETHER, "serve", "--db", str(db), *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,  # a signal meant for the test runner's group stays away from it
            )

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        assert wait_for(lambda: SERVE_READY in self.stderr() or self.proc.poll() is not None), self.stderr()
        assert self.proc.poll() is None, self.stderr()

    def exit_code(self, timeout: float = STOP_SECONDS) -> int:
        return self.proc.wait(timeout)

    def kill_group(self) -> None:
        """Leave nothing behind when a test fails half-way."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def serves() -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for serve in started:
        serve.kill_group()


def recorded(db: Path, run_id: str) -> tuple[str, list[ev.Event]]:
    engine = sqlite_engine(db, workers=0)
    return str(engine.get(run_id)["phase"]), [event for _seq, event in engine.events(run_id)]


def survivors(pids: list[int]) -> dict[int, str]:
    """What /proc says of the pids still alive (state, parent, group), for a failure message."""
    found = {}
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(OSError):
                found[pid] = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:4]
    return {pid: " ".join(fields) for pid, fields in found.items()}


def of_type(events: list[ev.Event], kind: type[EventT]) -> list[EventT]:
    return [event for event in events if isinstance(event, kind)]


@pytest.mark.spec("14.3")
@pytest.mark.timeout(120)
def test_sigkill_of_serve_kills_its_task_and_what_the_task_started(tmp_path: Path, serves: list[Serve]) -> None:
    db = tmp_path / "aether.db"
    leader, background = tmp_path / "leader.pid", tmp_path / "background.pid"
    submit(db, workflow(tmp_path / "flow.yaml", f"echo $$ > {leader}; sleep 60 & echo $! > {background}; wait"))
    serve = Serve(db)
    serves.append(serve)
    pids = [read_pid(leader), read_pid(background)]
    assert all(alive(pid) for pid in pids)

    killed_at = time.monotonic()
    os.kill(serve.proc.pid, signal.SIGKILL)  # the process only, not its group
    assert serve.exit_code() == -signal.SIGKILL
    assert wait_for(lambda: not any(alive(pid) for pid in pids), 5.0), f"outlived its engine: {survivors(pids)}"
    assert time.monotonic() - killed_at < 5.0


@pytest.mark.spec("14.1", "14.3")
@pytest.mark.timeout(120)
def test_sigterm_lets_a_running_task_finish_and_records_its_result(tmp_path: Path, serves: list[Serve]) -> None:
    db = tmp_path / "aether.db"
    started = tmp_path / "started"
    run_id = submit(db, workflow(tmp_path / "flow.yaml", f"touch {started}; sleep 1; echo finished"))
    serve = Serve(db)
    serves.append(serve)
    assert wait_for(started.exists)

    serve.proc.send_signal(signal.SIGTERM)
    assert serve.exit_code() == 0, serve.stderr()
    assert "waiting for 1 running task: " in serve.stderr()
    assert f"{run_id} main/work#1" in serve.stderr()
    phase, events = recorded(db, run_id)
    (result,) = of_type(events, ev.TaskResultReported)
    assert (result.node_id, result.attempt, result.code) == ("main/work", 1, 0)
    assert phase == "Succeeded"


@pytest.mark.spec("6.3", "14.1", "14.3")
@pytest.mark.timeout(120)
def test_a_task_still_running_after_the_grace_is_terminated_recorded_lost_and_runs_again(
    tmp_path: Path, serves: list[Serve]
) -> None:
    db = tmp_path / "aether.db"
    attempts, pidfile, again = tmp_path / "attempts", tmp_path / "pid", tmp_path / "again"
    # The first execution would run for a minute; the one after the restart ends at once.
    command = (
        f'echo "$AETHER_ATTEMPT" >> {attempts}; test -e {again} && exit 0; touch {again}; echo $$ > {pidfile}; sleep 60'
    )
    run_id = submit(db, workflow(tmp_path / "flow.yaml", command))
    serve = Serve(db, "--grace", "1s")
    serves.append(serve)
    pid = read_pid(pidfile)

    signalled_at = time.monotonic()
    serve.proc.send_signal(signal.SIGTERM)
    assert serve.exit_code() == 0, serve.stderr()
    stopped_after = time.monotonic() - signalled_at
    assert wait_for(lambda: not alive(pid), 5.0)
    assert 1.0 <= stopped_after < 10.0, serve.stderr()
    assert "(grace 1s left)" in serve.stderr()
    assert "terminated the tasks still running" in serve.stderr()

    # Terminated, not failed: the stopping engine records the interruption as a lost
    # attempt and dispatches the next one, which waits for the next engine.
    phase, events = recorded(db, run_id)
    assert phase == "Running"
    assert [(e.node_id, e.attempt) for e in of_type(events, ev.TaskStarted)] == [("main/work", 1)]
    assert of_type(events, ev.TaskResultReported) == []
    lost = of_type(events, ev.AttemptLost)
    assert [(e.node_id, e.attempt, e.reason) for e in lost] == [("main/work", 1, "worker-stopped")]
    assert lost[0].worker_id and lost[0].owner_id and lost[0].worker_id.startswith(lost[0].owner_id)
    dispatched = [(e.attempt, e.reason) for e in of_type(events, ev.TaskDispatched)]
    assert dispatched == [(1, "initial"), (2, "lost")]

    # The next engine runs attempt 2 at its start, and records its result.
    rerun = Serve(db, "--until-idle")
    serves.append(rerun)
    assert rerun.exit_code(60.0) == 0, rerun.stderr()
    phase, events = recorded(db, run_id)
    assert phase == "Succeeded"
    assert attempts.read_text().split() == ["1", "2"]
    results = of_type(events, ev.TaskResultReported)
    assert [(e.attempt, e.code) for e in results] == [(2, 0)]


@pytest.mark.spec("14.3")
@pytest.mark.timeout(120)
def test_run_timeout_drains_like_serve(tmp_path: Path) -> None:
    db, pidfile = tmp_path / "aether.db", tmp_path / "pid"
    document = workflow(tmp_path / "flow.yaml", f"echo $$ > {pidfile}; sleep 60")
    started = time.monotonic()
    done = subprocess.run(
        [*AETHER, "run", str(document), "--db", str(db), "--timeout", "1s", "--grace", "0s"],
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
    )
    assert done.returncode == 1, done.stderr
    assert time.monotonic() - started < 30.0
    assert "did not finish within 1s" in done.stderr
    assert "terminated the tasks still running" in done.stderr
    assert wait_for(lambda: not alive(read_pid(pidfile)), 5.0)
    run_id = sqlite_engine(db, workers=0).run_ids()[0]
    phase, events = recorded(db, run_id)
    assert phase == "Running"
    assert of_type(events, ev.TaskResultReported) == []


OWNER_WITH_A_REPLACED_REAPER = """
import os, signal, subprocess, sys, time
from aether.runtime.executors.lifetime import GroupReaper

reaper = GroupReaper()
first = subprocess.Popen(["sleep", "60"], start_new_session=True)
reaper.register(first.pid)
os.kill(reaper.pid, signal.SIGKILL)  # someone kills the reaper
while os.waitpid(reaper.pid, os.WNOHANG) == (0, 0):
    time.sleep(0.01)
second = subprocess.Popen(["sleep", "60"], start_new_session=True)
reaper.register(second.pid)  # starts a new reaper, which is told of both groups
print(first.pid, second.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.spec("14.3")
@pytest.mark.timeout(120)
def test_a_reaper_that_was_killed_is_replaced_and_told_every_group() -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_WITH_A_REPLACED_REAPER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert owner.stdout is not None
        pids = [int(pid) for pid in owner.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
        os.kill(owner.pid, signal.SIGKILL)
        assert wait_for(lambda: not any(alive(pid) for pid in pids), 5.0), f"outlived their owner: {survivors(pids)}"
    finally:
        if owner.poll() is None:
            os.killpg(owner.pid, signal.SIGKILL)
        owner.wait()
