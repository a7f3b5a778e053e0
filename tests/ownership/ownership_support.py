"""What the ownership tests share: ``aether`` commands run as processes on one SQLite file,
workflows whose shell tasks write down every execution, and reading back what the log and
the coordination tables recorded.

Every task appends ``<run> <node> <attempt> <pid> <serve>`` to one executions file: the
identity of the execution (from ``AETHER_RUN_ID``, ``AETHER_NODE_ID``, ``AETHER_ATTEMPT``),
its process and the name of the ``aether serve`` that started it (``SERVE_NAME``, inherited
from that serve's environment). A line of less than ``PIPE_BUF`` bytes appended with
``>>`` is written whole, so concurrent tasks do not interleave.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
from support.commands import aether_command
from support.documents import dag, dag_task, executor, workflow

from aether.events import catalog as ev
from aether.events.codec import decode
from aether.events.streams import run_stream
from aether.store.sqlite import SqliteEventLog

JSON = Any
SERVE_READY = "aether: serving"
STOP_SECONDS = 20.0  # a generous bound on a graceful stop that takes a second or two
FINISHED = ("Succeeded", "Failed", "Error", "Timeout", "Cancelled")


# --- workflows -------------------------------------------------------------------------------


def record_execution(executions: Path) -> str:
    return f'echo "$AETHER_RUN_ID $AETHER_NODE_ID $AETHER_ATTEMPT $$ $SERVE_NAME" >> {executions}'


def recorded_task(name: str, executions: Path, seconds: float, dependencies: Iterable[str] = ()) -> dict[str, JSON]:
    command = f"{record_execution(executions)}; sleep {seconds}"
    return dag_task(name, executor=executor("shell", command=command), dependencies=dependencies)


def write_workflow(path: Path, name: str, *tasks: dict[str, JSON]) -> Path:
    path.write_text(json.dumps(workflow(name, dag("main", *tasks))))
    return path


# --- processes -------------------------------------------------------------------------------


class Serve:
    """An ``aether serve`` process on ``db``, named ``name`` in its tasks' environment."""

    def __init__(self, db: Path, name: str, *args: str) -> None:
        self.name = name
        self.member_id = ""  # once it has joined (see wait_ready)
        self.joined_ms = 0
        self.stderr_path = db.with_name(f"serve-{name}.err")
        environment = {**os.environ, "SERVE_NAME": name}
        with self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [*aether_command(), "serve", "--db", str(db), *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=environment,
                start_new_session=True,  # a signal meant for the test runner's group stays away from it
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def member_prefix(self) -> str:
        """How this serve's member id, and so its workers' ids, begin."""
        return f"{socket.gethostname()}-{self.pid}-"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_ready(self, db: Path, timeout: float = 30.0) -> None:
        """Until it has joined as a member (it prints its banner before it opens the engine)."""
        assert wait_for(lambda: self.proc.poll() is not None or self._find_member(db), timeout), self.stderr()
        assert self.proc.poll() is None, self.stderr()

    def _find_member(self, db: Path) -> bool:
        for member_id, pid, joined_ms in coordination_rows(db, "SELECT member_id, pid, joined_ms FROM members"):
            if pid == self.pid and str(member_id).startswith(self.member_prefix):
                self.member_id, self.joined_ms = str(member_id), int(joined_ms)
                return True
        return False

    def started(self, event: ev.TaskStarted) -> bool:
        return event.worker_id.startswith(self.member_prefix)

    def exit_code(self, timeout: float = STOP_SECONDS) -> int:
        return self.proc.wait(timeout)

    def kill_group(self) -> None:
        """Leave nothing behind when a test fails half-way."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


@contextlib.contextmanager
def serves() -> Iterator[list[Serve]]:
    started: list[Serve] = []
    try:
        yield started
    finally:
        for serve in started:
            serve.kill_group()


def submit_all(db: Path, documents: Iterable[Path]) -> list[str]:
    """Submit the documents with ``aether submit`` processes running at the same time, so
    that their runs are offered to the serves within a short while of each other."""
    procs = [
        subprocess.Popen(
            [*aether_command(), "submit", str(document), "--db", str(db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        for document in documents
    ]
    run_ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        run_ids.append(out.strip())
    return run_ids


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, poll: float = 0.02) -> bool:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if predicate():
            return True
        time.sleep(poll)
    return predicate()


def alive(pid: int) -> bool:
    """Running and not a zombie (Linux: reads /proc)."""
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, OSError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# --- what was executed -----------------------------------------------------------------------


@attrs.frozen
class Execution:
    run_id: str
    node_id: str
    attempt: int
    pid: int
    serve: str

    @property
    def identity(self) -> tuple[str, str, int]:
        return (self.run_id, self.node_id, self.attempt)


def executions(path: Path) -> list[Execution]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        run_id, node_id, attempt, pid, serve = line.split()
        out.append(Execution(run_id, node_id, int(attempt), int(pid), serve))
    return out


# --- what was recorded -----------------------------------------------------------------------


@attrs.frozen
class Recorded:
    event: ev.Event
    recorded_at: float  # seconds since the epoch, when the store committed it


def history(db: Path, run_id: str) -> list[Recorded]:
    log = SqliteEventLog(db)
    try:
        return [Recorded(decode(stored), stored.recorded_at) for stored in log.read(run_stream(run_id))]
    finally:
        log.close()


def of_type(recorded: Iterable[Recorded], kind: type[Any]) -> list[Any]:
    return [r.event for r in recorded if isinstance(r.event, kind)]


def final_phase(db: Path, run_id: str) -> str:
    """The phase the run ended in, "" while it has not ended."""
    ends = of_type(history(db, run_id), ev.WorkflowCompleted)
    return str(ends[-1].phase) if ends else ""


def finished(db: Path, run_id: str) -> bool:
    """Whether the run's history holds its end (read directly: cheap enough to poll)."""
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM events WHERE stream = ? AND type = 'WorkflowCompleted'", (run_stream(run_id),)
        ).fetchone()
    return bool(row[0])


def coordination_rows(db: Path, query: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        try:
            return list(conn.execute(query, parameters).fetchall())
        except sqlite3.OperationalError:  # the tables are not created yet
            return []


def open_starts(recorded: Iterable[Recorded]) -> list[ev.TaskStarted]:
    """The starts of the attempts that have neither a result nor a loss recorded."""
    events = [r.event for r in recorded]
    ended = {(e.node_id, e.attempt) for e in events if isinstance(e, ev.TaskResultReported | ev.AttemptLost)}
    return [e for e in events if isinstance(e, ev.TaskStarted) and (e.node_id, e.attempt) not in ended]


def owners(db: Path) -> Mapping[str, str]:
    """run id -> the member id holding its lease (orphaned leases left out)."""
    rows = coordination_rows(db, "SELECT l.run_id, l.owner FROM run_leases l JOIN members m ON m.member_id = l.owner")
    return {str(run_id): str(owner) for run_id, owner in rows}


def verify_replays(db: Path, run_ids: Iterable[str]) -> dict[str, tuple[int, str]]:
    """``aether replay RUN --verify`` for every run, at the same time: run id -> (exit code, output)."""
    procs = {
        run_id: subprocess.Popen(
            [*aether_command(), "replay", run_id, "--verify", "--db", str(db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        for run_id in run_ids
    }
    outputs = {run_id: proc.communicate(timeout=60)[0] for run_id, proc in procs.items()}
    return {run_id: (proc.returncode, outputs[run_id]) for run_id, proc in procs.items()}
