"""What the crash test needs: the workflow, the processes it kills, and reading the results.

The workflow is about fifteen shell tasks: a DAG with fan-out and fan-in, retries with a
backoff timer, a task deadline that fires on a sleeping task tolerated by ``continueOn``,
and a loop with ``concurrency``. Each task first appends ``<node id> <start ns> <pid>
<ppid>`` to a file, then sleeps 50-300 ms. The file counts executions and says which
``aether serve`` process started each one (``$PPID``); the log counts recorded attempts.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
from support.documents import dag, loop, parameters, task, workflow

JSON = Any
SERVE_READY = "aether: serving"
NOT_STARTED = "deadline passed before start"  # the shell executor's message (code 4)
RECORD_EXECUTION = 'echo "$NODE $(date +%s%N) $$ $PPID"'


# --- the workflow ----------------------------------------------------------------------------


def _task(log: Path, node_id: str, seconds: float) -> dict[str, JSON]:
    command = f"{RECORD_EXECUTION} >> {log}; sleep {seconds}"
    return {"executor": {"type": "shell", "config": {"command": command, "env": {"NODE": node_id}}}}


def crash_workflow(directory: Path) -> dict[str, JSON]:
    """The workflow under test; its files live in ``directory``."""
    log, ready = directory / "executions.log", directory / "c1.done"

    def dag_task(name: str, deps: list[str], seconds: float, then: str = "", **extra: JSON) -> dict[str, JSON]:
        task = {"name": name, "dependencies": deps, **_task(log, f"main/{name}", seconds), **extra}
        task["executor"]["config"]["command"] += then
        return task

    # flaky fails until c1 (after a2: 250 ms later at best) has run to its end once: its
    # first attempts fail, a backoff timer brings each next one, across restarts. The limit
    # is generous, so that no sequence of kills can exhaust it.
    flaky = dag_task(
        "flaky",
        ["start"],
        0.1,
        retry={"limit": 90, "expression": "phase == 'Failed'", "backoff": {"duration": "300ms"}},
    )
    flaky["executor"]["config"]["command"] = (
        f"{RECORD_EXECUTION} >> {log}; test -e {ready} || {{ echo 'c1 has not finished yet' >&2; exit 1; }}; sleep 0.1"
    )
    tasks = [
        dag_task("start", [], 0.1),
        dag_task("a1", ["start"], 0.05),
        dag_task("a2", ["start"], 0.15),
        dag_task("a3", ["start"], 0.25),
        dag_task("a4", ["start"], 0.3),
        flaky,
        # Sleeps far past its 1 s deadline: the deadline fires, continueOn lets the DAG go on.
        dag_task("slow", ["start"], 4, timeout="1s", continueOn={"timeout": True}),
        {"name": "fan", "dependencies": ["a1"], "template": "fan"},
        dag_task("c1", ["a2"], 0.1, then=f"; touch {ready}"),
        dag_task("c2", ["c1"], 0.2),
        dag_task("join", ["a3", "a4", "flaky", "slow", "fan", "c2"], 0.05),
        dag_task("end", ["join"], 0.1),
    ]
    body = _task(log, "main/fan/loop[{{inputs.parameters.index}}]/work", 0.2)
    return workflow(
        "crash-me",
        dag("main", *tasks),
        loop(
            "fan",
            "work",
            items=["x", "y", "z"],
            concurrency=2,
            arguments=parameters({"index": "{{iterator.index}}"}),
        ),
        task("work", inputs=parameters(declared=["index"]), **body),
    )


LEAVES = (
    "main/start",
    "main/a1",
    "main/a2",
    "main/a3",
    "main/a4",
    "main/flaky",
    "main/slow",
    "main/fan/loop[0]/work",
    "main/fan/loop[1]/work",
    "main/fan/loop[2]/work",
    "main/c1",
    "main/c2",
    "main/join",
    "main/end",
)
EXPECTED_PHASES = {**{leaf: "Succeeded" for leaf in LEAVES}, "main/slow": "Timeout"}


# --- processes -------------------------------------------------------------------------------


@attrs.define
class Child:
    """A process this test started, with its output in files."""

    proc: subprocess.Popen[bytes]
    stderr: Path

    def text(self) -> str:
        return self.stderr.read_text(errors="replace")

    def wait_for(self, marker: str, timeout: float) -> None:
        give_up = time.monotonic() + timeout
        while marker not in self.text():
            if self.proc.poll() is not None:
                raise AssertionError(f"process {self.proc.args} exited {self.proc.returncode}:\n{self.text()}")
            if time.monotonic() > give_up:
                raise AssertionError(f"process {self.proc.args} printed no {marker!r} in {timeout} s:\n{self.text()}")
            time.sleep(0.02)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


def start(args: list[str], env: Mapping[str, str], directory: Path, name: str) -> Child:
    stderr = directory / f"{name}.stderr"
    with open(stderr, "wb") as err, open(directory / f"{name}.stdout", "wb") as out:
        proc = subprocess.Popen(args, env=dict(env), stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    return Child(proc, stderr)


def reap_orphans(executions: Path, db: Path) -> int:
    """Kill the task process groups that outlived a killed ``aether serve`` (a task runs in
    its own session, so SIGKILL of the engine does not reach it). Only the pids recorded in
    this test's execution file, and only while their environment still names this test's
    database (the tasks inherit ``AETHER_DB`` from the engine that started them)."""
    killed = 0
    if not executions.exists():
        return 0
    marker = f"AETHER_DB={db}".encode()
    for line in executions.read_text().splitlines():
        pid = int(line.split()[2])
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue  # gone
        if marker in environ.split(b"\0"):
            try:
                os.killpg(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


# --- reading the results ---------------------------------------------------------------------


@attrs.frozen
class Execution:
    node_id: str
    started_ns: int
    pid: int
    parent: int  # the process that started it: an ``aether serve``, or a reaper if that had died


def executions(path: Path) -> list[Execution]:
    out = []
    for line in path.read_text().splitlines():
        node_id, started, pid, parent = line.split()
        out.append(Execution(node_id, int(started), int(pid), int(parent)))
    return out


@attrs.frozen
class RecordedRun:
    events: list[tuple[int, Any, float]]  # (version, decoded event, commit time in seconds)

    def of_type(self, cls: type) -> Iterable[tuple[int, Any, float]]:
        """The events of ``cls``, a compact record (SPEC §6.6.1) read as what it carries."""
        from aether.events.compaction import expand

        return ((v, e, t) for v, record, t in self.events for e in expand(record) if isinstance(e, cls))

    def completed(self) -> Counter[str]:
        from aether.events.catalog import NodeCompleted

        return Counter(e.node_id for _v, e, _t in self.of_type(NodeCompleted))

    def completed_at(self) -> dict[str, float]:
        from aether.events.catalog import NodeCompleted

        return {e.node_id: t for _v, e, t in self.of_type(NodeCompleted)}

    def succeeded_results(self) -> Counter[str]:
        from aether.events.catalog import TaskResultRecorded

        return Counter(e.node_id for _v, e, _t in self.of_type(TaskResultRecorded) if e.phase == "Succeeded")

    def results_per_attempt(self) -> Counter[tuple[str, int]]:
        from aether.events.catalog import TaskResultRecorded

        return Counter((e.node_id, e.attempt) for _v, e, _t in self.of_type(TaskResultRecorded))

    def attempts(self) -> dict[str, int]:
        """Attempts dispatched per leaf (what the engine asked to execute)."""
        from aether.events.catalog import TaskDispatched

        out: dict[str, int] = defaultdict(int)
        for _v, e, _t in self.of_type(TaskDispatched):
            out[e.node_id] = max(out[e.node_id], e.attempt)
        return dict(out)

    def reported(self) -> Counter[str]:
        """Worker results recorded per leaf that came from an execution of the command: not
        the engine's own deadline result, and not the executor's refusal to start a task
        whose deadline had passed while the engine was down."""
        from aether.events.catalog import TaskResultRecorded

        return Counter(
            e.node_id
            for _v, e, _t in self.of_type(TaskResultRecorded)
            if not e.synthetic and NOT_STARTED not in e.message
        )


def read_run(db: Path, run_id: str) -> RecordedRun:
    from aether.events.codec import decode
    from aether.events.streams import run_stream
    from aether.store.sqlite import SqliteEventLog

    log = SqliteEventLog(db)
    try:
        return RecordedRun([(s.version, decode(s), s.recorded_at) for s in log.read(run_stream(run_id))])
    finally:
        log.close()


def run_finished(db: Path, run_id: str) -> bool:
    with sqlite3.connect(db, timeout=30) as conn:
        row = conn.execute(
            "SELECT count(*) FROM events WHERE stream = ? AND type = 'WorkflowCompleted'", (f"run:{run_id}",)
        ).fetchone()
    return bool(row[0])


def stream_version(db: Path, run_id: str) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        row = conn.execute("SELECT version FROM streams WHERE stream = ?", (f"run:{run_id}",)).fetchone()
    return int(row[0]) if row else 0


def results_recorded(db: Path, run_id: str) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        row = conn.execute(
            # A result is recorded by a TaskResultRecorded, or carried by the worker's report
            # it answers (SPEC §6.6.1).
            "SELECT count(*) FROM events WHERE stream = ? AND (type = 'TaskResultRecorded' OR"
            " (type = 'TaskResultReported' AND json_extract(CAST(data AS TEXT), '$.recorded') IS NOT NULL))",
            (f"run:{run_id}",),
        ).fetchone()
    return int(row[0])


def wait_for_progress(db: Path, run_id: str, results: int, timeout: float) -> None:
    """Until the run has ``results`` task results recorded, ends, or ``timeout`` passes."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if results_recorded(db, run_id) >= results or run_finished(db, run_id):
            return
        time.sleep(0.01)


def table_rows(db: Path, tables: Iterable[str]) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(db, timeout=30) as conn:
        return {table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in tables}
