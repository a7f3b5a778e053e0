#!/usr/bin/env python
"""Record the replay corpus: real runs of real workflows, exported as JSON Lines.

Usage (from the repository root)::

    python replay/record.py              # (re)write every pair
    python replay/record.py NAME ...     # only these
    python replay/record.py --check      # record into memory and compare with the files
                                         # (through the upcaster: see ``compare``)

Each case is run by the real ``Engine`` (``decide``, reducers, broker, worker runtime,
executors) with everything that could vary pinned, so recording twice gives the same
bytes: a ``FakeClock`` that starts at ``T0`` and moves by ``STEP`` before each start and
each result; run ids chosen here; fixed variable sources; an in-memory log whose commit
time (``recordedAt``) is the fake clock's; one worker played by this script, taking
assignments in ``fifo`` or ``lifo`` order. For each case it writes ``<name>.jsonl``
(exactly what ``aether export`` writes) and ``<name>.view.json`` (exactly what
``aether get --json`` prints).

Read ``README.md`` before re-recording anything: a recorded history is a fixed point.
Never re-record to make a failing corpus test pass.

The workflows come from the upstream conformance examples (``tests/conformance/upstream/
examples``, the same files the conformance suite runs) and from the documents
written out below for what those examples do not cover (a backoff retry, a shell
pipeline, a run forked with ``retry`` and ``reset``, duplicated worker reports, a run of
stored WorkflowTemplates). The ``cron-run`` case needs the cron shell (``aether.runtime.cron``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import orjson
from attrs import field, frozen

from aether.events.assignment import TaskAssignment, TaskStartReport
from aether.events.catalog import INPUT, Event, WorkflowSubmitted
from aether.events.compaction import compact_decision
from aether.events.streams import run_stream
from aether.events.times import ms_to_datetime
from aether.history.transfer import export_lines, parse_lines
from aether.model.durations import parse_duration_nanos
from aether.projections.views import run_view
from aether.runtime.broker import LocalBroker
from aether.runtime.clock import FakeClock
from aether.runtime.engine import Engine
from aether.runtime.executors.echo import EchoExecutor
from aether.runtime.executors.shell import ShellExecutor
from aether.runtime.notifiers import RecordingNotifier
from aether.runtime.templates import TemplateService, TemplateStore
from aether.runtime.variables import StaticVars
from aether.runtime.worker import run_assignment
from aether.store.memory import InMemoryEventLog

JSON = Any
CORPUS = Path(__file__).resolve().parent
UPSTREAM = CORPUS.parent / "tests" / "conformance" / "upstream" / "examples"
T0 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
STEP = timedelta(milliseconds=250)  # the worker's pace: before each start, before each result
HORIZON = timedelta(hours=2)  # a case that has not ended by then is a broken case
EXECUTORS = {"echo": EchoExecutor(), "shell": ShellExecutor(grace_seconds=1.0)}
# Fixed, so the recorded variable snapshot does not depend on the recording machine.
VARIABLES = (
    StaticVars("system", {"os": "linux", "arch": "amd64"}),
    StaticVars("deploy", {"cluster": "prod-cluster", "region": "ap-east-1"}),
)
# The shell cases read this variable; the fork cases flip it between the two runs.
FIXED_ENV = "AETHER_CORPUS_FIXED"


# --- the documents the upstream examples do not cover ----------------------------------------

RETRY_BACKOFF = {
    "apiVersion": "aether/v1",
    "kind": "Workflow",
    "metadata": {"name": "retry-backoff"},
    "spec": {
        "entrypoint": "main",
        "templates": [
            {
                "dag": {
                    "name": "main",
                    "tasks": [
                        {
                            "name": "flaky",
                            "retry": {
                                "limit": 3,
                                "expression": "phase == 'Failed'",
                                "backoff": {"duration": "1s", "factor": 2, "maxDuration": "3s"},
                            },
                            "inputs": {
                                "parameters": [
                                    {"name": "fail-count", "value": 2},
                                    {"name": "outputs", "value": [{"name": "status", "type": "string", "value": "ok"}]},
                                ]
                            },
                            "executor": {"type": "echo"},
                        },
                        {
                            "name": "after",
                            "dependencies": ["flaky"],
                            "inputs": {
                                "parameters": [
                                    {
                                        "name": "status",
                                        "valueFrom": {"parameter": "tasks.flaky.outputs.parameters.status"},
                                    }
                                ]
                            },
                            "executor": {"type": "echo"},
                        },
                    ],
                }
            }
        ],
    },
}


def _shell(command: str, **extra: JSON) -> dict[str, JSON]:
    return {"executor": {"type": "shell", "config": {"command": command}}, **extra}


SHELL_PIPELINE = {
    "apiVersion": "aether/v1",
    "kind": "Workflow",
    "metadata": {"name": "shell-pipeline"},
    "spec": {
        "entrypoint": "main",
        "arguments": {"parameters": [{"name": "greeting", "value": "hello"}]},
        "templates": [
            {
                "dag": {
                    "name": "main",
                    "tasks": [
                        {
                            "name": "produce",
                            "inputs": {
                                "parameters": [
                                    {"name": "greeting", "valueFrom": {"parameter": "workflow.parameters.greeting"}}
                                ]
                            },
                            **_shell(
                                'printf \'{"count": 3, "word": "%s"}\' "$AETHER_INPUT_GREETING" > "$AETHER_OUTPUTS";'
                                ' echo "produced $AETHER_INPUT_GREETING"'
                            ),
                        },
                        {
                            "name": "fan",
                            "dependencies": ["produce"],
                            "template": "each",
                        },
                        {
                            "name": "lint",
                            "dependencies": ["produce"],
                            "continueOn": {"failed": True},
                            **_shell("echo 'style problem in line 3' >&2; exit 3"),
                        },
                        {
                            "name": "report",
                            "dependencies": ["fan", "lint"],
                            "inputs": {
                                "parameters": [
                                    {
                                        "name": "word",
                                        "valueFrom": {"parameter": "tasks.produce.outputs.parameters.word"},
                                    },
                                    {"name": "lint", "valueFrom": {"expression": "tasks.lint.phase"}},
                                ]
                            },
                            **_shell('echo "$AETHER_INPUT_WORD / lint $AETHER_INPUT_LINT"'),
                        },
                    ],
                }
            },
            {
                "loop": {
                    "name": "each",
                    "items": ["a", "b", "c"],
                    "concurrency": 2,
                    "body": "upper",
                    "arguments": {"parameters": [{"name": "letter", "value": "{{iterator.item}}"}]},
                    "aggregate": {"strategy": "list", "parameters": ["stdout"]},
                    "outputs": {"parameters": [{"name": "stdout", "type": "array"}]},
                }
            },
            {
                "task": {
                    "name": "upper",
                    "inputs": {"parameters": [{"name": "letter", "type": "string"}]},
                    **_shell("printf '%s' \"$AETHER_INPUT_LETTER\" | tr a-z A-Z"),
                }
            },
        ],
    },
}

# Fails unless the recorder set AETHER_CORPUS_FIXED=1: the origin of the two fork cases.
SHELL_FLAKY_DEPLOY = {
    "apiVersion": "aether/v1",
    "kind": "Workflow",
    "metadata": {"name": "shell-deploy"},
    "spec": {
        "entrypoint": "main",
        "templates": [
            {
                "dag": {
                    "name": "main",
                    "tasks": [
                        {"name": "build", **_shell("echo built")},
                        {"name": "docs", **_shell("echo docs")},
                        {
                            "name": "deploy",
                            "dependencies": ["build"],
                            **_shell(
                                f'if [ "${FIXED_ENV}" = 1 ]; then echo deployed;'
                                " else echo 'registry unreachable' >&2; exit 7; fi"
                            ),
                        },
                        {"name": "notify", "dependencies": ["deploy", "docs"], **_shell("echo notified")},
                    ],
                }
            }
        ],
    },
}


# A Workflow that takes its spec from one stored WorkflowTemplate (workflowTemplateRef) and
# whose entry DAG runs a DAG of another (templateRef), which calls its own templates by name.
BUILD_STEPS = {
    "apiVersion": "aether/v1",
    "kind": "WorkflowTemplate",
    "metadata": {"name": "build-steps"},
    "spec": {
        "templates": [
            {
                "dag": {
                    "name": "build",
                    "tasks": [
                        {"name": "compile", "template": "compile"},
                        {"name": "test", "template": "check", "dependencies": ["compile"]},
                    ],
                }
            },
            {
                "task": {
                    "name": "compile",
                    "inputs": {
                        "parameters": [
                            {"name": "outputs", "value": [{"name": "artifact", "type": "string", "value": "app.bin"}]}
                        ]
                    },
                    "executor": {"type": "echo"},
                }
            },
            {"task": {"name": "check", "executor": {"type": "echo"}}},
        ]
    },
}

RELEASE_BASE = {
    "apiVersion": "aether/v1",
    "kind": "WorkflowTemplate",
    "metadata": {"name": "release-base"},
    "spec": {
        "entrypoint": "main",
        "priority": 700,
        "arguments": {"parameters": [{"name": "version", "value": "1.0.0"}, {"name": "channel", "value": "beta"}]},
        "templates": [
            {
                "dag": {
                    "name": "main",
                    "tasks": [
                        {"name": "build", "templateRef": {"name": "build-steps", "template": "build"}},
                        {
                            "name": "publish",
                            "dependencies": ["build"],
                            "inputs": {
                                "parameters": [
                                    {"name": "version", "valueFrom": {"parameter": "workflow.parameters.version"}},
                                    {"name": "channel", "valueFrom": {"parameter": "workflow.parameters.channel"}},
                                ]
                            },
                            "executor": {"type": "echo"},
                        },
                    ],
                }
            }
        ],
    },
}

RELEASE = {
    "apiVersion": "aether/v1",
    "kind": "Workflow",
    "metadata": {"name": "release"},
    "spec": {
        "workflowTemplateRef": {"name": "release-base"},
        "arguments": {"parameters": [{"name": "version", "value": "2.0.0"}]},
    },
}


# --- cases -----------------------------------------------------------------------------------


@frozen
class Case:
    name: str
    source: str  # an upstream example's file stem, or "" for ``document``
    about: str
    document: dict[str, JSON] | None = None
    order: str = "fifo"
    resume_after: str | None = None  # once a node is suspended: resume it after this long
    cancel_after: str | None = None  # once a node is suspended: cancel the run after this long
    duplicate_reports: bool = False  # every worker report is delivered twice
    fixed: bool = True  # the value of AETHER_CORPUS_FIXED while the run executes
    fork: tuple[str, ...] = ()  # ("retry",) or ("reset", SEQ): the run is a fork of ``origin``
    origin: str = ""  # the case whose run this one forks (recorded in the same log first)
    cron: bool = False  # the document is a CronWorkflow: record the run its first tick starts
    templates: tuple[dict[str, JSON], ...] = ()  # WorkflowTemplates applied before the submit
    extra: Mapping[str, JSON] = field(factory=dict)


CASES: tuple[Case, ...] = (
    Case("dag-linear", "02-dag-linear", "three tasks in a chain, outputs passed along"),
    Case("dag-parallel", "03-dag-parallel", "independent tasks run by a LIFO worker", order="lifo"),
    Case("dag-diamond", "16-dag-diamond", "fan-out and fan-in"),
    Case("dag-when", "04-dag-when", "when conditions: one branch skipped"),
    Case("dag-continue-on", "05-dag-continue-on-failed", "a failed task tolerated by continueOn"),
    Case("dag-multi-continue-on", "17-dag-multi-continue-on", "continueOn on several tasks"),
    Case("dag-inputs", "13-dag-inputs", "inputs bound from upstream outputs"),
    Case("workflow-arguments", "10-workflow-arguments", "workflow arguments and their defaults"),
    Case("nested-dag", "08-nested-dag", "a DAG inside a DAG"),
    Case("loop-static", "06-loop-static", "static items with concurrency 2"),
    Case("loop-aggregate", "07-loop-aggregate", "list aggregation of iteration outputs"),
    Case("loop-aggregate-first", "22-loop-aggregate-first", "aggregate strategy first", order="lifo"),
    Case("loop-items-from", "23-loop-items-from", "itemsFrom an upstream output"),
    Case("loop-repeat-condition", "18-loop-repeat-condition", "repeatCondition until a bound"),
    Case("loop-empty", "31-empty-loop-minimal", "a loop over no items"),
    Case("loop-empty-siblings", "33-empty-loop-siblings", "an empty loop beside a non-empty one"),
    Case("retry-limit", "09-dag-retry", "two failures, then success on the third attempt"),
    Case("retry-exhausted", "21-retry-exhausted", "every retry fails: the run fails"),
    Case("retry-backoff", "", "retries with an exponential backoff timer", document=RETRY_BACKOFF),
    Case("task-timeout", "12-task-timeout", "a task deadline fires; continueOn.timeout lets the DAG go on"),
    Case("suspend-resume", "11-await-suspend", "a task suspends and is resumed", resume_after="200ms"),
    Case("cancel", "20-cancel-workflow", "the run is cancelled while a task is suspended", cancel_after="200ms"),
    Case("hooks-lifecycle", "24-hooks-lifecycle", "workflow and task hooks"),
    Case("hooks-suspend-resume", "25-hooks-suspend-resume", "onSuspend and onResume hooks", resume_after="200ms"),
    Case("hooks-cancel", "26-hooks-cancel", "onCancel hooks", cancel_after="200ms"),
    Case(
        "duplicate-reports",
        "09-dag-retry",
        "every worker report delivered twice: the copies are recorded as ignored (rule 6)",
        duplicate_reports=True,
    ),
    Case("cron-run", "28-cron-basic", "the run a CronWorkflow's scheduled tick started (11:00)", cron=True),
    Case(
        "shell-pipeline",
        "",
        "shell tasks: AETHER_OUTPUTS, inputs as environment, a loop, a tolerated failure",
        document=SHELL_PIPELINE,
    ),
    Case(
        "shell-failed",
        "",
        "a shell deploy that fails (the origin of the fork cases)",
        document=SHELL_FLAKY_DEPLOY,
        fixed=False,
    ),
    Case(
        "fork-retry",
        "",
        "`aether retry` of shell-failed once fixed: build and docs reused, deploy re-run",
        document=SHELL_FLAKY_DEPLOY,
        fork=("retry",),
        origin="shell-failed",
    ),
    Case(
        "fork-reset",
        "",
        "`aether reset --to 16` of shell-failed: only build (succeeded by event 16) reused",
        document=SHELL_FLAKY_DEPLOY,
        fork=("reset", "16"),
        origin="shell-failed",
    ),
    Case(
        "workflow-template",
        "",
        "a spec from a stored WorkflowTemplate (workflowTemplateRef) running a DAG of another (templateRef)",
        document=RELEASE,
        templates=(BUILD_STEPS, RELEASE_BASE),
    ),
)


# --- the driver ------------------------------------------------------------------------------


class _NamedIds:
    """The ids of a recording: the case's run id, then the fork's."""

    def __init__(self, names: list[str]) -> None:
        self._names = names

    def new_id(self, kind: str, hint: Mapping[str, str]) -> str:
        return self._names.pop(0)


def _seconds(text: str) -> timedelta:
    nanos = parse_duration_nanos(text)
    assert nanos is not None, text
    return timedelta(microseconds=nanos / 1000)


class Recorder:
    """One log, one fake clock, one worker: every case of the corpus runs in its own."""

    def __init__(self, order: str, run_ids: list[str]) -> None:
        self.clock = FakeClock(T0)
        self.log = InMemoryEventLog(clock=lambda: self.clock.now().timestamp())
        self.broker = LocalBroker(order=order)  # type: ignore[arg-type]
        self.templates = TemplateStore(self.log)
        self.engine = Engine(
            self.log,
            executors=EXECUTORS,
            broker=self.broker,
            clock=self.clock,
            ids=_NamedIds(run_ids),
            variables=list(VARIABLES),
            notifiers=[RecordingNotifier()],
            workers=0,
            template_lookup=self.templates.lookup,
        )

    def work(self, assignment: TaskAssignment, duplicate: bool) -> None:
        self.clock.advance(STEP)
        start = TaskStartReport(assignment.id, assignment.run_id, assignment.node_id, assignment.attempt, "worker-1")
        self.broker.report_started(start)
        if duplicate:
            self.broker.report_started(start)
        self.engine.pump()
        self.clock.advance(STEP)
        result = run_assignment(assignment, EXECUTORS, now=self.clock.now)
        report = result.report(assignment, "worker-1")
        self.broker.report_result(report)
        if duplicate:
            self.broker.report_result(report)
        self.engine.pump()

    def drive(self, run_id: str, case: Case) -> None:
        """Work until the run ends: assignments first, then resume/cancel, then timers."""
        action: tuple[datetime, str, str | None] | None = None
        acted = False
        limit = T0 + HORIZON
        while True:
            self.engine.pump()
            assignment = self.broker.fetch("worker-1", None, timeout=0)
            if assignment is not None:
                self.work(assignment, case.duplicate_reports)
                continue
            state = self.engine.get_state(run_id)
            if state.terminal:
                return
            if not acted and (case.resume_after or case.cancel_after):
                suspended = [n for n in state.nodes_in_order() if n.phase == "Suspended"]
                if suspended:
                    acted = True
                    if case.resume_after:
                        action = (self.clock.now() + _seconds(case.resume_after), "resume", suspended[0].node_id)
                    else:
                        assert case.cancel_after is not None
                        action = (self.clock.now() + _seconds(case.cancel_after), "cancel", None)
            due_ms = self.engine.next_timer_due_ms()
            timer = ms_to_datetime(due_ms) if due_ms is not None else None
            if action is not None and (timer is None or action[0] <= timer):
                when, what, node_id = action
                action = None
                self.clock.set(max(when, self.clock.now()))
                if what == "resume":
                    assert node_id is not None
                    self.engine.resume(run_id, node_id, {"__resumed": True})
                else:
                    self.engine.cancel(run_id)
                continue
            if timer is None or timer > limit:
                raise RuntimeError(f"case {case.name}: run {run_id} is stuck in {state.phase}")
            self.clock.set(max(timer, self.clock.now()))


def document_text(case: Case) -> str:
    if case.document is not None:
        return orjson.dumps(case.document).decode()
    path = UPSTREAM / f"{case.source}.json"
    if not path.exists():
        raise SystemExit(f"record.py: {path} not found (the upstream examples live in tests/conformance/upstream)")
    return path.read_text()


def _with_env(fixed: bool, fn: Callable[[], str]) -> str:
    before = os.environ.get(FIXED_ENV)
    os.environ[FIXED_ENV] = "1" if fixed else "0"
    try:
        return fn()
    finally:
        if before is None:
            os.environ.pop(FIXED_ENV, None)
        else:
            os.environ[FIXED_ENV] = before


def record(case: Case) -> tuple[bytes, bytes]:
    """Run ``case`` and return (the exported history, the final run view), as file bytes."""
    cases = {c.name: c for c in CASES}
    if case.fork:
        origin = cases[case.origin]
        recorder = Recorder(case.order, [origin.name, case.name])
        run_id = _with_env(origin.fixed, lambda: _run(recorder, origin))
        kind = case.fork[0]
        at_seq = int(case.fork[1]) if len(case.fork) > 1 else None
        recorder.clock.advance(timedelta(minutes=5))
        new_id = recorder.engine.fork(run_id, kind, at_seq)
        _with_env(case.fixed, lambda: _drive(recorder, new_id, case))
        run_id = new_id
    elif case.cron:
        recorder = Recorder(case.order, [])
        run_id = _first_cron_run(recorder, case)
    else:
        recorder = Recorder(case.order, [case.name])
        run_id = _with_env(case.fixed, lambda: _run(recorder, case))
    stream = run_stream(run_id)
    history = b"".join(line + b"\n" for line in export_lines(stream, recorder.log.read(stream)))
    view = run_view(recorder.engine.get_state(run_id))
    return history, orjson.dumps(view, option=orjson.OPT_INDENT_2) + b"\n"


def _run(recorder: Recorder, case: Case) -> str:
    if case.templates:
        TemplateService(recorder.engine, store=recorder.templates).apply(*case.templates)
    run_id = recorder.engine.submit(document_text(case), source_name=f"{case.name}.json").run_id
    return _drive(recorder, run_id, case)


def _first_cron_run(recorder: Recorder, case: Case) -> str:
    """Register the cron at T0, move the clock to its first scheduled time, tick."""
    from aether.runtime.cron import CronService  # the cron shell; only this case needs it

    service = CronService(recorder.engine)
    service.create(document_text(case))
    due = service.next_due_ms()
    assert due is not None, f"case {case.name}: the cron never ticks"
    recorder.clock.set(ms_to_datetime(due))
    assert service.tick() == 1, f"case {case.name}: the tick started no run"
    (run_id,) = recorder.engine.run_ids()
    return _drive(recorder, run_id, case)


def _drive(recorder: Recorder, run_id: str, case: Case) -> str:
    recorder.drive(run_id, case)
    return run_id


def files(case: Case, directory: Path = CORPUS) -> tuple[Path, Path]:
    return directory / f"{case.name}.jsonl", directory / f"{case.name}.view.json"


def _selected(names: list[str]) -> Iterator[Case]:
    known = {case.name: case for case in CASES}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"record.py: unknown case(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return iter([known[name] for name in names] if names else CASES)


def compare(history_path: Path, view_path: Path, history: bytes, view: bytes) -> str:
    """How a fresh recording compares with the files: ``same`` (byte for byte); ``same once
    upcast`` (the file's decisions, upcast to the compact records of SPEC §6.6.1, are the
    fresh ones, and the views are equal; limits added to the run's snapshot since it was
    recorded are named); or ``DIFFERS``, with the first event that does."""
    if not history_path.exists() or not view_path.exists():
        return "DIFFERS (no file)"
    if history_path.read_bytes() == history and view_path.read_bytes() == view:
        return "same"
    if orjson.loads(view_path.read_bytes()) != orjson.loads(view):
        return "DIFFERS (the view)"
    stored = upcast(_decoded(history_path.read_bytes()))
    fresh = _decoded(history)
    first_stored, first_fresh = stored[0], fresh[0]
    assert isinstance(first_stored, WorkflowSubmitted) and isinstance(first_fresh, WorkflowSubmitted)
    added = sorted(set(first_fresh.limits) - set(first_stored.limits))
    if {k: v for k, v in first_fresh.limits.items() if k not in added} == first_stored.limits:
        stored[0] = attrs.evolve(first_stored, limits=first_fresh.limits)
    for seq, (old, new) in enumerate(zip(stored, fresh, strict=False), start=1):
        if old != new:
            return f"DIFFERS (event {seq}: {old.TYPE} / {new.TYPE})"
    if len(stored) != len(fresh):
        return f"DIFFERS ({len(stored)} events upcast, {len(fresh)} recorded)"
    return "same once upcast" + (f" (new limits {', '.join(added)})" if added else "")


def _decoded(history: bytes) -> list[Event]:
    return [event for _seq, event in parse_lines(history.splitlines()).decoded()]


def upcast(events: list[Event]) -> list[Event]:
    """A history recorded before compact records, decision by decision in today's form."""
    out: list[Event] = []
    group: list[Event] = []
    for event in events:
        if event.KIND == INPUT and group:
            out += compact_decision(group[0], group[1:])[0]
            group = []
        group.append(event)
    if group:
        out += compact_decision(group[0], group[1:])[0]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="cases to record (default: all)")
    parser.add_argument("--check", action="store_true", help="compare with the files instead of writing them")
    parser.add_argument("--out", type=Path, default=CORPUS, help="directory to write (default: replay/)")
    args = parser.parse_args(argv)
    differ = 0
    for case in _selected(args.names):
        history, view = record(case)
        history_path, view_path = files(case, args.out)
        if args.check:
            verdict = compare(history_path, view_path, history, view)
            differ += verdict.startswith("DIFFERS")
            print(f"{verdict:40} {case.name}")
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        history_path.write_bytes(history)
        view_path.write_bytes(view)
        events = history.count(b"\n") - 1
        phase = orjson.loads(view)["phase"]
        print(f"{case.name:24} {events:4} events  {phase:10} {case.about}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
