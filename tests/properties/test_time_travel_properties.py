"""Time travel (``aether replay RUN --at N|TIME``) on generated runs.

A generated workflow (``generators.workflows``) is run by the real ``Engine`` on a fake
clock, with a worker that picks any pending assignment at random, random outcomes for the
``test`` executor, random pauses, duplicated and late reports, timers fired, suspended
nodes resumed and, rarely, a cancel. Then, for the recorded history:

- the view at event N (``state_at``, what ``--at N`` folds) equals the view of a log that
  holds only the first N events, read by a fresh engine, for every N;
- the view at every commit equals what the live engine showed right after that commit
  (the engine keeps the state ``decide`` returned; time travel refolds the log);
- the view at a time T equals the view of the log truncated after the last event recorded
  by T (an input's time is its ``at``; a decision shares its input's time);
- ``aether replay RUN --at N --json`` prints that view, from a SQLite copy of the log;
- and ``verify_run`` accepts the history (every generated run replays identically).
"""

from __future__ import annotations

import contextlib
import functools
import random
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from hypothesis import event as note_event
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from aether.events import catalog as ev
from aether.events.assignment import TaskAssignment, TaskResultReport, TaskStartReport
from aether.events.codec import decode
from aether.events.streams import run_stream
from aether.events.times import format_ms, ms_to_datetime, parse_ms
from aether.history.time_travel import seq_at_time, state_at
from aether.history.verify import verify_run
from aether.projections.views import run_view
from aether.runtime.broker import LocalBroker
from aether.runtime.clock import FakeClock
from aether.runtime.engine import Engine, RequestRejected
from aether.runtime.executors.base import ExecContext, ExecResult
from aether.runtime.executors.echo import EchoExecutor
from aether.runtime.ids import SequentialIds
from aether.runtime.notifiers import RecordingNotifier
from aether.runtime.worker import run_assignment
from aether.store.base import NO_STREAM, PendingEvent, StoredEvent
from aether.store.memory import InMemoryEventLog
from aether.store.sqlite import SqliteEventLog
from tests.properties.generators import workflows

pytestmark = pytest.mark.spec("6.6")

JSON = Any
T0 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
MAX_STEPS = 120
PAUSES = (timedelta(0), timedelta(milliseconds=100), timedelta(milliseconds=700), timedelta(seconds=3))
OUTCOMES = (
    ExecResult(0),
    ExecResult.outputs({"status": "ok"}),
    ExecResult(2, "business failure"),
    ExecResult(3, "system failure"),
    ExecResult(1, "waiting"),
    ExecResult(4, "task timed out: slow"),
)


class RandomOutcome:
    """Executor type ``test``: an outcome drawn from the run's random source."""

    type = "test"

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd

    def validate_config(self, config: Mapping[str, JSON] | None) -> list[Any]:
        return []

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        return self.rnd.choice(OUTCOMES)


class RecordedRun:
    """Runs one generated document at random and keeps what time travel is checked against."""

    def __init__(self, document: dict[str, JSON], rnd: random.Random) -> None:
        self.rnd = rnd
        self.clock = FakeClock(T0)
        self.log = InMemoryEventLog(clock=lambda: self.clock.now().timestamp())
        self.broker = LocalBroker(order="fifo")
        self.executors = {"echo": EchoExecutor(), "test": RandomOutcome(rnd)}
        self.engine = Engine(
            self.log,
            executors=self.executors,
            broker=self.broker,
            clock=self.clock,
            ids=SequentialIds(),
            notifiers=[RecordingNotifier()],
            workers=0,
        )
        self.live: list[tuple[int, dict[str, JSON]]] = []  # (stream version, the engine's view then)
        self.run_id = self.engine.submit(orjson.dumps(document).decode(), source_name="generated").run_id
        self.stream = run_stream(self.run_id)
        self.snapshot()
        self.drive()

    def snapshot(self) -> None:
        version = self.log.stream_version(self.stream)
        if not self.live or self.live[-1][0] != version:
            self.live.append((version, self.engine.get(self.run_id)))

    def pump(self) -> None:
        self.engine.pump()
        self.snapshot()

    def report(self, assignment: TaskAssignment, result: ExecResult) -> None:
        a = assignment
        self.broker.report_result(
            TaskResultReport(
                a.id,
                a.run_id,
                a.node_id,
                a.attempt,
                "w1",
                result.code,
                result.message,
                result.parameters,
                result.artifacts,
            )
        )

    def drive(self) -> None:
        rnd = self.rnd
        held: list[TaskAssignment] = []  # fetched, not finished: the worker picks among them
        done: list[TaskAssignment] = []
        for _step in range(MAX_STEPS):
            self.pump()
            while (fetched := self.broker.fetch("w1", None, timeout=0)) is not None:
                held.append(fetched)
            state = self.engine.get_state(self.run_id)
            suspended = [n.node_id for n in state.nodes_in_order() if n.phase == "Suspended"]
            due = self.engine.next_timer_due_ms()
            actions = (["work"] * 4 if held else []) + (["resume"] * 2 if suspended else [])
            actions += ["timer"] if due is not None and not held else []
            actions += ["late"] if done else []
            if not state.terminal and rnd.random() < 0.03:
                actions.append("cancel")
            if not actions or (state.terminal and not held):
                return
            action = rnd.choice(actions)
            self.clock.advance(rnd.choice(PAUSES))
            if action == "work":
                assignment = held.pop(rnd.randrange(len(held)))
                a = assignment
                self.broker.report_started(TaskStartReport(a.id, a.run_id, a.node_id, a.attempt, "w1"))
                if rnd.random() < 0.5:
                    self.pump()
                    self.clock.advance(rnd.choice(PAUSES))
                result = run_assignment(assignment, self.executors, now=self.clock.now)
                self.report(assignment, result)
                if rnd.random() < 0.1:
                    self.report(assignment, result)  # a duplicate delivery
                done.append(assignment)
            elif action == "late":
                self.report(rnd.choice(done), rnd.choice(OUTCOMES))  # a stale or repeated result
            elif action == "resume":
                with contextlib.suppress(RequestRejected):
                    self.engine.resume(self.run_id, rnd.choice(suspended), {"__resumed": True})
                self.snapshot()
            elif action == "timer":
                assert due is not None
                self.clock.set(max(ms_to_datetime(due), self.clock.now()))
            else:
                with contextlib.suppress(RequestRejected):
                    self.engine.cancel(self.run_id)
                self.snapshot()

    def stored(self) -> list[StoredEvent]:
        return list(self.log.read(self.stream))

    def events(self) -> list[tuple[int, ev.Event]]:
        return [(s.version, decode(s)) for s in self.stored()]


def truncated(stored: list[StoredEvent], n: int) -> dict[str, JSON]:
    """The view a fresh engine shows of a log holding only the first ``n`` events."""
    log = InMemoryEventLog()
    log.append(stored[0].stream, [PendingEvent(s.type, s.schema_version, s.data) for s in stored[:n]], NO_STREAM)
    return Engine(log, workers=0).get(stored[0].stream.removeprefix("run:"))


documents = workflows(max_tasks=8, executors=("echo", "test"))


@functools.cache
def _replay_app() -> typer.Typer:
    from aether.cli import replay_cmd

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    replay_cmd.register(app)
    return app


@given(document=documents, rnd=st.randoms(use_true_random=False))
def test_the_view_at_every_n_is_the_view_of_the_log_truncated_after_n(
    document: dict[str, JSON], rnd: random.Random
) -> None:
    run = RecordedRun(document, rnd)
    stored, events = run.stored(), run.events()
    assert events[0][1].TYPE == "WorkflowSubmitted"
    note_event(f"run {run.engine.get_state(run.run_id).phase}")
    note_event(f"events {'<20' if len(events) < 20 else '<60' if len(events) < 60 else '>=60'}")
    for kind in sorted({type(e).__name__ for _s, e in events if e.KIND == ev.INPUT} - {"WorkflowSubmitted"}):
        note_event(f"has {kind}")
    incremental = None
    for n in range(1, len(events) + 1):
        incremental = state_at(iter(events[n - 1 : n]), n, start=incremental)
        at_n = state_at(iter(events), n)
        assert at_n is not None and incremental is not None
        view = run_view(at_n)
        assert view == run_view(incremental), f"event {n}"
        assert view == truncated(stored, n), f"event {n}"
    assert run_view(state_at(iter(events), len(events) + 10)) == run.engine.get(run.run_id)
    assert state_at(iter(events), 0) is None
    result = verify_run(iter(events))
    assert result.ok, result.mismatch.describe() if result.mismatch else ""


@given(document=documents, rnd=st.randoms(use_true_random=False))
def test_the_view_at_every_commit_is_what_the_live_engine_showed(document: dict[str, JSON], rnd: random.Random) -> None:
    run = RecordedRun(document, rnd)
    events = run.events()
    assert run.live, "the submission is a commit"
    for version, live_view in run.live:
        at = state_at(iter(events), version)
        assert at is not None
        assert run_view(at) == live_view, f"after the commit that ended at event {version}"


def _last_by(events: list[tuple[int, ev.Event]], limit_ms: int) -> int:
    """Independently of ``seq_at_time``: the longest prefix whose inputs all happened by then."""
    last = 0
    for seq, event in events:
        if event.KIND == ev.INPUT and parse_ms(event.at) > limit_ms:  # type: ignore[attr-defined]
            break
        last = seq
    return last


@given(document=documents, rnd=st.randoms(use_true_random=False), data=st.data())
def test_the_view_at_a_time_is_the_view_of_the_log_truncated_at_that_time(
    document: dict[str, JSON], rnd: random.Random, data: st.DataObject
) -> None:
    run = RecordedRun(document, rnd)
    stored, events = run.stored(), run.events()
    times = sorted({parse_ms(e.at) for _s, e in events if e.KIND == ev.INPUT})  # type: ignore[attr-defined]
    # Input times never go back in a run driven by one engine on one clock.
    in_order = [parse_ms(e.at) for _s, e in events if e.KIND == ev.INPUT]  # type: ignore[attr-defined]
    assert in_order == sorted(in_order)
    probes = {times[0] - 1, times[-1] + 1}
    probes |= {t + d for t in data.draw(st.lists(st.sampled_from(times), max_size=6)) for d in (-1, 0, 1)}
    for ms in sorted(probes):
        seq = seq_at_time(iter(events), format_ms(ms))
        assert seq == _last_by(events, ms), format_ms(ms)
        if seq == 0:
            assert ms < times[0]
            continue
        assert run_view(state_at(iter(events), seq)) == truncated(stored, seq), format_ms(ms)


@settings(max_examples=min(settings().max_examples, 30))  # a SQLite file and a CLI call per example
@given(document=documents, rnd=st.randoms(use_true_random=False), data=st.data())
def test_aether_replay_at_prints_the_truncated_view(
    document: dict[str, JSON], rnd: random.Random, data: st.DataObject
) -> None:
    run = RecordedRun(document, rnd)
    stored = run.stored()
    n = data.draw(st.integers(1, len(stored)), label="N")
    with tempfile.TemporaryDirectory() as directory:
        db = Path(directory) / "aether.db"
        log = SqliteEventLog(db)
        log.append(run.stream, [PendingEvent(s.type, s.schema_version, s.data) for s in stored], NO_STREAM)
        log.close()
        result = CliRunner().invoke(_replay_app(), ["replay", run.run_id, "--at", str(n), "--json", "--db", str(db)])
    assert result.exit_code == 0, result.stderr
    assert orjson.loads(result.stdout) == truncated(stored, n)
