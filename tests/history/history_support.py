"""Runs to replay, inspect, move and fork, and the ``aether`` commands that do it.

``Driver`` makes real runs deterministically, in the test's own thread: the real
``Engine`` on the test's log (usually the SQLite file the CLI then opens), a ``FakeClock``
that moves ``STEP`` before every start and every result (so every input has its own
time), run ids chosen by the test, one worker played by the driver, and the executors
``echo``, ``shell`` and ``scripted`` (whose outcome per task name the test sets).

``cli`` runs an ``aether`` command in-process (``typer.testing.CliRunner``) against a
database, with stdout and stderr apart.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import typer
from click.testing import Result
from support.documents import dag, dag_task, echo_task, executor, task, workflow
from typer.testing import CliRunner

from aether.events import catalog as ev
from aether.events.assignment import TaskAssignment, TaskResultReport, TaskStartReport
from aether.events.streams import run_stream
from aether.events.times import ms_to_datetime
from aether.runtime.broker import LocalBroker
from aether.runtime.clock import FakeClock
from aether.runtime.engine import Engine
from aether.runtime.executors.base import ExecContext, ExecResult
from aether.runtime.executors.echo import EchoExecutor
from aether.runtime.executors.shell import ShellExecutor
from aether.runtime.notifiers import RecordingNotifier
from aether.runtime.variables import StaticVars
from aether.runtime.worker import run_assignment
from aether.store.base import EventLog
from aether.store.sqlite import SqliteEventLog

JSON = Any
T0 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
STEP = timedelta(seconds=1)


# --- the command line ------------------------------------------------------------------------


def _app() -> typer.Typer:
    from aether.cli import replay_cmd, run_cmd, runs_cmd

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    for module in (run_cmd, runs_cmd, replay_cmd):
        module.register(app)
    return app


APP = _app()


def cli(db: Path, *args: str) -> Result:
    """``aether ARGS --db DB`` in-process."""
    return CliRunner().invoke(APP, [*args, "--db", str(db)])


def cli_json(db: Path, *args: str) -> JSON:
    result = cli(db, *args)
    assert result.exit_code == 0, f"aether {' '.join(args)}: exit {result.exit_code}\n{result.stderr}"
    return orjson.loads(result.stdout)


# --- executors -------------------------------------------------------------------------------


class ScriptedExecutor:
    """Executor type ``scripted``: the outcome of a task is ``outcomes[task name]`` (code 0
    by default), and every execution is counted in ``runs``."""

    type = "scripted"

    def __init__(self) -> None:
        self.outcomes: dict[str, int] = {}
        self.runs: list[str] = []

    def validate_config(self, config: Mapping[str, JSON] | None) -> list[Any]:
        return []

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        self.runs.append(request.node_id)
        code = self.outcomes.get(request.task_name, 0)
        if code == 0:
            return ExecResult.outputs({"from": request.node_id})
        return ExecResult(code, f"scripted outcome {code}")


# --- the driver -----------------------------------------------------------------------------


class _Ids:
    def __init__(self, names: list[str]) -> None:
        self._names = list(names)
        self._n = 0

    def new_id(self, kind: str, hint: Mapping[str, str]) -> str:
        if self._names:
            return self._names.pop(0)
        self._n += 1
        return f"run-{self._n}"


class Driver:
    def __init__(self, log: EventLog, *, run_ids: list[str] | None = None, order: str = "fifo") -> None:
        self.log = log
        self.clock = FakeClock(T0)
        self.broker = LocalBroker(order=order)  # type: ignore[arg-type]
        self.scripted = ScriptedExecutor()
        self.executors = {"echo": EchoExecutor(), "shell": ShellExecutor(grace_seconds=1.0), "scripted": self.scripted}
        self.hooks = RecordingNotifier()
        self.engine = Engine(
            log,
            executors=self.executors,
            broker=self.broker,
            clock=self.clock,
            ids=_Ids(run_ids or []),
            variables=[StaticVars("system", {"os": "linux", "arch": "amd64"})],
            notifiers=[self.hooks],
            workers=0,
        )

    @classmethod
    def on_sqlite(cls, path: Path, **kwargs: Any) -> Driver:
        return cls(SqliteEventLog(path), **kwargs)

    def submit(self, document: dict[str, JSON], arguments: Mapping[str, JSON] | None = None) -> str:
        return self.engine.submit(orjson.dumps(document).decode(), arguments, source_name="test.json").run_id

    def work(self, assignment: TaskAssignment) -> None:
        self.clock.advance(STEP)
        self.broker.report_started(
            TaskStartReport(assignment.id, assignment.run_id, assignment.node_id, assignment.attempt, "w1")
        )
        self.engine.pump()
        self.clock.advance(STEP)
        result = run_assignment(assignment, self.executors, now=self.clock.now)
        self.broker.report_result(
            TaskResultReport(
                assignment.id,
                assignment.run_id,
                assignment.node_id,
                assignment.attempt,
                "w1",
                result.code,
                result.message,
                result.parameters,
                result.artifacts,
            )
        )
        self.engine.pump()

    def drive(self, run_id: str, *, until_suspended: bool = False, horizon: timedelta = timedelta(hours=2)) -> str:
        """Work, then fire timers, until the run ends (or a node is suspended, if asked);
        return the run's phase."""
        while True:
            self.engine.pump()
            assignment = self.broker.fetch("w1", None, timeout=0)
            if assignment is not None:
                self.work(assignment)
                continue
            state = self.engine.get_state(run_id)
            if state.terminal:
                return state.phase
            if until_suspended and any(n.phase == "Suspended" for n in state.nodes_in_order()):
                return state.phase
            due = self.engine.next_timer_due_ms()
            if due is None or ms_to_datetime(due) > T0 + horizon:
                raise AssertionError(f"run {run_id} is stuck in {state.phase}")
            self.clock.set(max(ms_to_datetime(due), self.clock.now()))

    def run(self, document: dict[str, JSON], arguments: Mapping[str, JSON] | None = None) -> str:
        run_id = self.submit(document, arguments)
        self.drive(run_id)
        return run_id

    def adopt(self, run_id: str) -> None:
        """Take over a run another process recorded (a CLI ``retry``): re-issue its
        dispatches, as ``aether serve`` does at start."""
        self.engine.recover()
        self.engine.get_state(run_id)

    def events(self, run_id: str) -> list[tuple[int, ev.Event]]:
        return list(self.engine.events(run_id))


# --- documents ------------------------------------------------------------------------------


def echo_outputs(**values: JSON) -> dict[str, JSON]:
    return {"name": "outputs", "value": [{"name": k, "type": "string", "value": v} for k, v in values.items()]}


def diamond_with_retry() -> dict[str, JSON]:
    """a → (b, c) → d; c fails once and is retried. About 50 events, 12 inputs."""
    return workflow(
        "diamond",
        dag(
            "main",
            dag_task("a", "step"),
            dag_task("b", "step", dependencies=["a"]),
            echo_task(
                "c",
                dependencies=["a"],
                retry={"limit": 2, "expression": "phase == 'Failed'"},
                inputs={"parameters": [{"name": "fail-count", "value": 1}, echo_outputs(c="ok")]},
            ),
            dag_task("d", "step", dependencies=["b", "c"]),
        ),
        task("step", executor("echo"), inputs={"parameters": [echo_outputs(status="done")]}),
    )


def scripted_dag(tasks: list[dict[str, JSON]], name: str = "scripted") -> dict[str, JSON]:
    """A DAG of ``scripted`` tasks: each item is ``{name, dependencies?, continueOn?, ...}``."""
    return workflow(name, dag("main", *({"executor": executor("scripted"), **t} for t in tasks)))


# --- the SQLite file, by hand ----------------------------------------------------------------


def stored_rows(db: Path, run_id: str) -> list[tuple[int, str, bytes]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT version, type, data FROM events WHERE stream = ? ORDER BY version", (run_stream(run_id),)
        ).fetchall()


def rewrite_event(db: Path, run_id: str, version: int, data: bytes, type_name: str | None = None) -> None:
    """Edit one recorded event in place, as a corrupted or tampered log would have it."""
    conn = sqlite3.connect(db)
    try:
        if type_name is None:
            conn.execute(
                "UPDATE events SET data = ? WHERE stream = ? AND version = ?", (data, run_stream(run_id), version)
            )
        else:
            conn.execute(
                "UPDATE events SET data = ?, type = ? WHERE stream = ? AND version = ?",
                (data, type_name, run_stream(run_id), version),
            )
        assert conn.total_changes == 1
        conn.commit()
    finally:
        conn.close()
