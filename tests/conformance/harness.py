"""The conformance runner of SPEC §16, driving the same Engine a user gets.

Wiring (§16.1): a chosen EventLog, a FakeClock at T0, sequential run ids, only the
``echo`` executor, one in-process worker played by this harness (FIFO or LIFO), a
recording hook notifier, and the ``system`` and ``deploy`` variable sources.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from attrs import define, field

from aether.events.assignment import TaskAssignment, TaskResultReport, TaskStartReport
from aether.events.times import datetime_to_ms, ms_to_datetime
from aether.model.durations import parse_duration_nanos
from aether.model.problems import ValidationError
from aether.runtime.broker import LocalBroker
from aether.runtime.clock import FakeClock
from aether.runtime.engine import Engine
from aether.runtime.executors.echo import EchoExecutor
from aether.runtime.ids import SequentialIds
from aether.runtime.notifiers import RecordingNotifier
from aether.runtime.variables import StaticVars, SystemVars, go_arch, go_os
from aether.runtime.worker import run_assignment
from aether.store.base import EventLog

# The reference engine's examples and assertions, kept unchanged beside this file.
UPSTREAM = Path(__file__).resolve().parent / "upstream"
T0 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
BUDGET = timedelta(seconds=5)
JSON = Any


def example_names() -> list[str]:
    return sorted(p.stem for p in (UPSTREAM / "examples").glob("*.json"))


def load_example(name: str) -> tuple[str, dict[str, JSON]]:
    text = (UPSTREAM / "examples" / f"{name}.json").read_text()
    assertion = json.loads((UPSTREAM / "assertions" / f"{name}.json").read_text())
    return text, assertion


def duration_seconds(text: str) -> float:
    nanos = parse_duration_nanos(text)
    assert nanos is not None, f"bad duration in assertion: {text}"
    return nanos / 1e9


@define
class Dispatched:
    assignment: TaskAssignment
    run_terminal: bool


@define
class Harness:
    log: EventLog
    order: str = "fifo"
    clock: FakeClock = field(factory=lambda: FakeClock(T0))
    hooks: RecordingNotifier = field(factory=RecordingNotifier)
    dispatched: list[Dispatched] = field(factory=list)
    last_result: TaskResultReport | None = None
    on_dispatch: Callable[[Harness, TaskAssignment], None] | None = None
    engine: Engine = field(init=False)
    broker: LocalBroker = field(init=False)

    def __attrs_post_init__(self) -> None:
        self.broker = LocalBroker(order=self.order)  # type: ignore[arg-type]
        self.engine = Engine(
            self.log,
            executors={"echo": EchoExecutor()},
            broker=self.broker,
            clock=self.clock,
            ids=SequentialIds(),
            variables=[SystemVars(), StaticVars("deploy", {"cluster": "prod-cluster", "region": "ap-east-1"})],
            notifiers=[self.hooks],
            workers=0,
        )

    def submit(self, text: str) -> str:
        return self.engine.submit(text, source_name="example").run_id

    def drive(self, run_id: str) -> None:
        """§16.2 a: run assignments one at a time until none is pending."""
        while True:
            self.engine.pump()
            assignment = self.broker.fetch("worker-1", None, timeout=0)
            if assignment is None:
                return
            terminal = self.engine.get_state(run_id).terminal
            self.dispatched.append(Dispatched(assignment, terminal))
            if self.on_dispatch is not None:
                self.on_dispatch(self, assignment)
                if self.broker.is_cancelled(assignment.id):
                    continue
            self.work(assignment)

    def work(self, assignment: TaskAssignment) -> None:
        self.broker.report_started(
            TaskStartReport(assignment.id, assignment.run_id, assignment.node_id, assignment.attempt, "worker-1")
        )
        result = run_assignment(assignment, {"echo": EchoExecutor()}, now=self.clock.now)
        report = result.report(assignment, "worker-1")
        self.last_result = report
        self.broker.report_result(report)
        self.engine.pump()

    def run_workflow(self, text: str, assertion: dict[str, JSON]) -> str:
        """§16.2 steps 2 and 3 (verification is separate)."""
        run_id = self.submit(text)
        armed: list[tuple[datetime, int, str, str | None]] = []  # (due, order, action, node)
        armed_once = False
        while True:
            self.drive(run_id)
            state = self.engine.get_state(run_id)
            if state.terminal:
                break
            if not armed_once and (assertion.get("autoResumeAfter") or assertion.get("autoCancelAfter")):
                suspended = [n for n in state.nodes_in_order() if n.phase == "Suspended"]
                if suspended:
                    armed_once = True
                    now = self.clock.now()
                    if assertion.get("autoResumeAfter"):
                        due = now + timedelta(seconds=duration_seconds(assertion["autoResumeAfter"]))
                        armed.append((due, 0, "resume", suspended[0].node_id))
                    if assertion.get("autoCancelAfter"):
                        due = now + timedelta(seconds=duration_seconds(assertion["autoCancelAfter"]))
                        armed.append((due, 1, "cancel", None))
            limit = T0 + BUDGET
            candidates = [a for a in armed if a[0] <= limit]
            timer_ms = self.engine.next_timer_due_ms()
            timer_due = ms_to_datetime(timer_ms) if timer_ms is not None else None
            if timer_due is not None and timer_due > limit:
                timer_due = None
            next_action = min(candidates, key=lambda a: (a[0], a[1])) if candidates else None
            if next_action is None and timer_due is None:
                break
            if next_action is not None and (timer_due is None or next_action[0] <= timer_due):
                armed.remove(next_action)
                if next_action[0] > self.clock.now():
                    self.clock.set(next_action[0])
                if next_action[2] == "resume":
                    assert next_action[3] is not None
                    self.engine.resume(run_id, next_action[3], {"__resumed": True})
                else:
                    self.engine.cancel(run_id)
            else:
                assert timer_due is not None
                self.clock.set(max(timer_due, self.clock.now()))
                self.engine.pump()
        return run_id


def rewrite_platform(value: JSON) -> JSON:
    """§16.3: exact ``{{runtime.os}}`` / ``{{runtime.arch}}`` strings become Go names."""
    if value == "{{runtime.os}}":
        return go_os()
    if value == "{{runtime.arch}}":
        return go_arch()
    if isinstance(value, list):
        return [rewrite_platform(v) for v in value]
    if isinstance(value, dict):
        return {k: rewrite_platform(v) for k, v in value.items()}
    return value


def json_equal(a: JSON, b: JSON) -> bool:
    """§16.4 value comparison: numbers by value, booleans never equal numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _subset(kind: str, task: str, got: dict[str, JSON], want: dict[str, JSON], failures: list[str]) -> None:
    for name, expected in want.items():
        expected = rewrite_platform(expected)
        if name not in got:
            failures.append(f'task "{task}" {kind} "{name}": not found')
        elif not json_equal(got[name], expected):
            failures.append(f'task "{task}" {kind} "{name}": got {json.dumps(got[name])}, want {json.dumps(expected)}')


def reference_scope(view_task: dict[str, JSON], by_id: dict[str, dict[str, JSON]]) -> str:
    parent_id = view_task.get("parentId")
    if parent_id is None:
        return ""
    parent = by_id[parent_id]
    if parent["templateType"] == "loop":
        return f"{parent['taskName']}.loop[{view_task['index']}]/"
    return f"{parent['taskName']}/"


def verify_run(view: dict[str, JSON], assertion: dict[str, JSON]) -> list[str]:
    """§16.4: the list of failures (empty = pass)."""
    failures: list[str] = []
    if assertion.get("expectPhase") and view["phase"] != assertion["expectPhase"]:
        failures.append(f'workflow phase: got "{view["phase"]}", want "{assertion["expectPhase"]}"')
    if "expectTaskCount" in assertion and len(view["tasks"]) != assertion["expectTaskCount"]:
        failures.append(f"task count: got {len(view['tasks'])}, want {assertion['expectTaskCount']}")
    if assertion.get("expectOutputs"):
        _subset("output", "<workflow>", view["outputs"], assertion["expectOutputs"], failures)
    by_name: dict[str, dict[str, JSON]] = {}
    by_id = {t["id"]: t for t in view["tasks"]}
    for task in view["tasks"]:
        by_name[task["taskName"]] = task
    for expected in assertion.get("expectTasks", []):
        name = expected["taskName"]
        task = by_name.get(name)
        if task is None:
            failures.append(f'task "{name}": not found (available: {sorted(by_name)})')
            continue
        if expected.get("expectPhase") and task["phase"] != expected["expectPhase"]:
            failures.append(f'task "{name}" phase: got "{task["phase"]}", want "{expected["expectPhase"]}"')
        if expected.get("expectOutputs"):
            _subset("output", name, task["outputs"], expected["expectOutputs"], failures)
        if expected.get("expectInputs"):
            _subset("input", name, task["inputs"], expected["expectInputs"], failures)
        if "expectRetryCount" in expected and task["retryCount"] != expected["expectRetryCount"]:
            failures.append(f'task "{name}" retryCount: got {task["retryCount"]}, want {expected["expectRetryCount"]}')
        if expected.get("expectTemplateType") and task["templateType"] != expected["expectTemplateType"]:
            failures.append(
                f'task "{name}" templateType: got "{task["templateType"]}", want "{expected["expectTemplateType"]}"'
            )
        if "expectDepth" in expected and task["depth"] != expected["expectDepth"]:
            failures.append(f'task "{name}" depth: got {task["depth"]}, want {expected["expectDepth"]}')
        if "expectScope" in expected:
            scope = reference_scope(task, by_id)
            if scope != expected["expectScope"]:
                failures.append(f'task "{name}" scope: got "{scope}", want "{expected["expectScope"]}"')
    return failures


def submit_error(log: EventLog, text: str) -> str | None:
    harness = Harness(log)
    try:
        harness.submit(text)
    except ValidationError as exc:
        return str(exc)
    return None


def now_ms(clock: FakeClock) -> int:
    return datetime_to_ms(clock.now())
