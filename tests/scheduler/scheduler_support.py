"""Hand-written run histories for the scheduler: documents built in a line or two, and a
``DecidedRun`` that feeds input events to ``decide(state, trigger)`` one at a time, the way
the runtime would, keeping every event so tests can assert on the decisions.

Nothing here runs a worker: the test says which result each attempt reports, when it
starts, and which timer fires (at its due time, the clock moving only forward).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from aether.events import catalog as ev
from aether.events.compaction import expand_all
from aether.events.times import datetime_to_ms, format_ms
from aether.events.values import ResultParameter
from aether.model.limits import DEFAULT_LIMITS, Limits
from aether.reducers.state import NodeState, RunState
from aether.runtime.submission import load_workflow, submitted_event
from aether.scheduler.decide import decide

JSON = Any
T0 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
T0_MS = datetime_to_ms(T0)
E = TypeVar("E", bound=ev.Event)


# --- documents ------------------------------------------------------------------------------


def workflow(entrypoint: str, *templates: dict[str, JSON], name: str = "wf", **spec: JSON) -> dict[str, JSON]:
    return {
        "apiVersion": "aether/v1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {"entrypoint": entrypoint, "templates": list(templates), **spec},
    }


def task(name: str, **fields: JSON) -> dict[str, JSON]:
    """A task template run by ``echo`` (the executor never runs here: results are written by hand)."""
    return {"task": {"name": name, "executor": {"type": "echo"}, **fields}}


def dag(name: str, tasks: Sequence[dict[str, JSON]], **fields: JSON) -> dict[str, JSON]:
    return {"dag": {"name": name, "tasks": list(tasks), **fields}}


def loop(name: str, body: str, **fields: JSON) -> dict[str, JSON]:
    return {"loop": {"name": name, "body": body, **fields}}


def conditions(**by_phase: str) -> dict[str, str]:
    """``phaseConditions`` from keyword arguments ``succeeded``, ``failed``, ``error``."""
    return dict(by_phase)


def param(name: str, value: JSON) -> ResultParameter:
    return ResultParameter(name, value)


# --- driving decide -------------------------------------------------------------------------


class DecidedRun:
    """One run, decided input by input. ``events`` holds every event in log order (inputs
    and decisions); tests read the decisions from them, as ``aether history`` does."""

    def __init__(self, document: dict[str, JSON], *, limits: Limits = DEFAULT_LIMITS, run_id: str = "run-1") -> None:
        prepared = load_workflow(document, limits=limits)
        self.submitted = submitted_event(prepared, run_id=run_id, at=format_ms(T0_MS), variables={}, limits=limits)
        self.now_ms = T0_MS
        self.state: RunState | None = None
        self.events: list[ev.Event] = []
        self.step(self.submitted)

    # --- inputs ---------------------------------------------------------------------------

    def step(self, trigger: ev.Event) -> tuple[ev.Event, ...]:
        """Decide one input; returns the decision's events, fine-grained, in the order the
        log records them (SPEC §6.6.1: a leaf's creation is recorded at its dispatch)."""
        decision = decide(self.state, trigger)
        self.state = decision.state
        recorded = expand_all(decision.recorded)
        self.events += recorded
        return tuple(recorded[1:])

    @property
    def at(self) -> str:
        return format_ms(self.now_ms)

    def advance(self, ms: int) -> None:
        self.now_ms += ms

    def start(self, node_id: str, attempt: int | None = None) -> tuple[ev.Event, ...]:
        return self.step(ev.TaskStarted(node_id, attempt or self.node(node_id).attempt, self.at, "w1"))

    def report(
        self,
        node_id: str,
        code: int = 0,
        message: str = "",
        parameters: Sequence[ResultParameter] = (),
        *,
        attempt: int | None = None,
    ) -> tuple[ev.Event, ...]:
        """A worker's result for ``node_id``'s current attempt (or ``attempt``)."""
        number = attempt or self.node(node_id).attempt
        return self.step(ev.TaskResultReported(node_id, number, self.at, code, message, tuple(parameters), (), "w1"))

    def finish(self, node_id: str, code: int = 0, message: str = "", **outputs: JSON) -> tuple[ev.Event, ...]:
        """Start then report, as a worker does; keyword arguments are output parameters."""
        self.start(node_id)
        return self.report(node_id, code, message, [param(k, v) for k, v in outputs.items()])

    def fire(self, timer_id: str) -> tuple[ev.Event, ...]:
        """Fire an armed timer at its due time (the clock never goes back)."""
        self.now_ms = max(self.now_ms, self.armed(timer_id).due_ms)
        return self.step(ev.TimerFired(timer_id, self.at))

    # --- reading --------------------------------------------------------------------------

    @property
    def run(self) -> RunState:
        assert self.state is not None
        return self.state

    def node(self, node_id: str) -> NodeState:
        return self.run.node(node_id)

    def phase(self, node_id: str) -> str:
        return self.node(node_id).phase

    def all(self, kind: type[E], node_id: str | None = None) -> list[E]:
        return [
            e
            for e in self.events
            if isinstance(e, kind) and (node_id is None or getattr(e, "node_id", None) == node_id)
        ]

    def last(self, kind: type[E], node_id: str | None = None) -> E:
        found = self.all(kind, node_id)
        assert found, f"no {kind.TYPE} for {node_id or 'the run'}"
        return found[-1]

    def completed(self, node_id: str) -> ev.NodeCompleted:
        return self.last(ev.NodeCompleted, node_id)

    def recorded(self, node_id: str) -> ev.TaskResultRecorded:
        return self.last(ev.TaskResultRecorded, node_id)

    def armed(self, timer_id: str) -> ev.TimerArmed:
        found = [e for e in self.events if isinstance(e, ev.TimerArmed) and e.timer_id == timer_id]
        assert found, f"timer {timer_id} was never armed"
        return found[-1]


def outputs_of(event: ev.NodeCompleted | ev.TaskResultRecorded) -> Mapping[str, JSON]:
    return {p.name: p.value for p in event.outputs or () if p.has_value}
