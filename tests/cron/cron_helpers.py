"""Shared pieces of the cron tests: documents, an engine on a fake clock with a
hand-driven echo worker, and small readers of a cron's history."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from support.deaths import declare_dead
from support.documents import cron_workflow, executor, parameters, task

from aether.events import catalog as ev
from aether.events.codec import decode
from aether.events.times import datetime_to_ms, format_datetime
from aether.expr import check_expression
from aether.model import dump_document, load_document
from aether.reducers.cron import CronState, apply_cron, cron_stream
from aether.runtime.clock import FakeClock
from aether.runtime.cron import CronService
from aether.scheduler.cron import CronDecision, decide_cron
from aether.store.base import EventLog
from aether.store.memory import InMemoryEventLog
from tests.conformance.harness import Harness

JSON = Any
T0 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)

ECHO_OK = task("main", executor("echo"))
ECHO_SUSPEND = task("main", executor("echo"), inputs=parameters({"suspend": True}))
ECHO_FAIL = task("main", executor("echo"), inputs=parameters({"fail-count": 9}))


def cron_doc(
    name: str = "nightly",
    schedule: str = "*/5 * * * *",
    *,
    template: dict[str, JSON] | None = None,
    namespace: str | None = None,
    **spec: JSON,
) -> dict[str, JSON]:
    return cron_workflow(name, schedule, copy.deepcopy(template or ECHO_OK), namespace=namespace, **spec)


class Env:
    """An engine on a FakeClock (the conformance harness wiring) and a cron service."""

    def __init__(self, log: EventLog | None = None, start: datetime = T0) -> None:
        self.log = log if log is not None else InMemoryEventLog()
        self.harness = Harness(self.log, clock=FakeClock(start))
        self.engine = self.harness.engine
        self.clock = self.harness.clock
        self.cron = CronService(self.engine)

    def restart(self, log: EventLog | None = None, *, previous_died: bool = True) -> Env:
        """A new engine and cron service on the same log (or ``log``, the same database
        opened again) and the same clock: what a process restart looks like. With
        ``previous_died=False`` the previous engine goes on living beside the new one."""
        fresh = Env.__new__(Env)
        fresh.log = log if log is not None else self.log
        if previous_died:
            declare_dead(self.engine, fresh.log)
        fresh.harness = Harness(fresh.log, clock=self.clock)
        fresh.engine = fresh.harness.engine
        fresh.clock = self.clock
        fresh.engine.recover()  # what Engine.start does: dispatch again what has no result
        fresh.cron = CronService(fresh.engine)
        return fresh

    def drive(self) -> None:
        """Run every pending assignment with the echo worker until none is left (§16.2 a)."""
        while True:
            self.engine.pump()
            assignment = self.harness.broker.fetch("worker-1", None, timeout=0)
            if assignment is None:
                return
            self.harness.work(assignment)

    def set(self, t: datetime) -> None:
        self.clock.set(t)

    def advance(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))

    def run_phase(self, run_id: str) -> str:
        return self.engine.get_state(run_id).phase

    def cron_runs(self) -> list[tuple[str, str]]:
        """Every run in the engine that a cron started: (scheduledTime, trigger), in creation order."""
        out = []
        for run_id in self.engine.run_ids():
            cron = self.engine.get_state(run_id).cron
            if cron:
                out.append((cron["scheduledTime"], cron["trigger"]))
        return sorted(out)


def wire(doc: dict[str, JSON]) -> dict[str, JSON]:
    """A CronWorkflow as the service stores it: validated, defaults applied."""
    result = load_document(json.dumps(doc), fmt="json", expected_kind="CronWorkflow", expression_check=check_expression)
    assert result.document is not None, result.problems
    return dump_document(result.document)


def ms(t: datetime | str) -> int:
    return datetime_to_ms(at(t) if isinstance(t, str) else t)


def registered(doc: dict[str, JSON], when: datetime = T0) -> CronState:
    document = wire(doc)
    metadata = document["metadata"]
    cron_id = f"{metadata['namespace']}/{metadata['name']}"
    state = apply_cron(None, ev.CronRegistered(cron_id, format_datetime(when), document))
    return state


def decide_all(state: CronState, *inputs: ev.Event) -> tuple[CronState, list[CronDecision]]:
    """Decide inputs one after the other as the shell does, keeping only accepted ones."""
    decisions = []
    for trigger in inputs:
        decision = decide_cron(state, trigger)
        decisions.append(decision)
        if decision.accepted:
            assert decision.state is not None
            state = decision.state
    return state, decisions


def tick(when: datetime | str, scheduled: datetime | str | None = None, trigger: str = "scheduled") -> ev.CronTicked:
    now = at(when) if isinstance(when, str) else when
    sched = now if scheduled is None else (at(scheduled) if isinstance(scheduled, str) else scheduled)
    return ev.CronTicked(format_datetime(sched), format_datetime(now), trigger)


def history(log: EventLog, name: str, namespace: str = "default") -> list[ev.Event]:
    return [decode(stored) for stored in log.read(cron_stream(namespace, name))]


def of_type(events: list[ev.Event], cls: type[ev.Event]) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def step_ticker(env: Env, until: datetime, step: timedelta) -> None:
    """Move the clock to ``until`` in steps, letting the ticker run after each (a running engine)."""
    while env.clock.now() < until:
        env.clock.set(min(until, env.clock.now() + step))
        env.cron.tick()


__all__ = [
    "ECHO_FAIL",
    "ECHO_OK",
    "ECHO_SUSPEND",
    "T0",
    "Env",
    "at",
    "cron_doc",
    "decide_all",
    "history",
    "ms",
    "of_type",
    "registered",
    "step_ticker",
    "tick",
    "wire",
]
