"""Run histories made by driving the pure decider (``decide``) with random inputs, the way
the shell would: starts and results (codes 0-4) of dispatched attempts, sometimes
duplicated or for stale attempts, timers in due order, resumes (of suspended nodes and, to
be refused, of other nodes), timers fired again, and cancels.

Shared by the reducer properties and the SPEC §6.4 edge-coverage test.
"""

from __future__ import annotations

from typing import Any

from attrs import evolve, frozen
from hypothesis import strategies as st

from aether.events import catalog as ev
from aether.events.assignment import TaskAssignment
from aether.events.times import format_ms, parse_ms
from aether.events.values import ResultParameter
from aether.model.limits import DEFAULT_LIMITS
from aether.reducers.state import RunState
from aether.runtime.submission import load_workflow, submitted_event
from aether.scheduler.decide import decide
from aether.scheduler.effects import ArmTimer, CancelTask, Dispatch
from tests.properties.generators import workflows

JSON = Any

T0_MS = parse_ms("2026-03-01T10:00:00.000Z")

# --- driving decide ------------------------------------------------------------------------


def submit_event(document: dict[str, JSON], run_id: str = "1") -> ev.WorkflowSubmitted:
    prepared = load_workflow(document, limits=DEFAULT_LIMITS)
    return submitted_event(prepared, run_id=run_id, at=format_ms(T0_MS), variables={}, limits=DEFAULT_LIMITS)


@frozen
class History:
    document: dict[str, JSON]
    events: tuple[ev.Event, ...]
    final: RunState  # what decide returned after the last input


class Driver:
    """Feeds inputs to ``decide`` the way the shell would, keeping what a worker and the
    timer service would know (open assignments, armed timers)."""

    def __init__(self, document: dict[str, JSON]) -> None:
        self.now = T0_MS
        self.state: RunState | None = None
        self.events: list[ev.Event] = []
        self.dispatched: dict[str, TaskAssignment] = {}  # every assignment, by id
        self.open: list[str] = []  # dispatched, no result delivered, not cancelled
        self.cancelled: set[str] = set()
        self.delivered: list[ev.TaskResultReported] = []
        self.timers: dict[str, tuple[int, int]] = {}  # armed, not fired: id -> (due, seq)
        self.fired: list[str] = []
        self.seq = 0
        self.step(submit_event(document))

    @property
    def at(self) -> str:
        return format_ms(self.now)

    def step(self, trigger: ev.Event) -> None:
        decision = decide(self.state, trigger)
        self.events.extend(decision.recorded)  # the input and its decision, as the log records them
        self.state = decision.state
        for effect in decision.effects:
            if isinstance(effect, Dispatch):
                self.dispatched[effect.assignment.id] = effect.assignment
                self.open.append(effect.assignment.id)
            elif isinstance(effect, CancelTask):
                self.cancelled.add(effect.assignment_id)
                if effect.assignment_id in self.open:
                    self.open.remove(effect.assignment_id)
            elif isinstance(effect, ArmTimer):
                self.seq += 1
                self.timers[effect.timer_id] = (effect.due_ms, self.seq)

    # --- actions --------------------------------------------------------------------------

    def actions(self) -> list[str]:
        """The possible next inputs, repeated by weight (the first shrinks best)."""
        names: list[str] = []
        suspended = bool(self.suspended())
        if self.open:
            names += ["result"] * 8 + ["start"] * 2
        if suspended:
            names += ["resume"] * (2 if self.open else 6)
        if self.timers:
            names += ["timer"] * (1 if self.open or suspended else 6)
        if self.delivered:
            names += ["duplicate"]
        if self.delivered or self.cancelled:
            names += ["stale"]
        if self.fired:
            names += ["timer-again"]
        names += ["advance", "resume-other", "cancel"]
        return names

    def suspended(self) -> list[str]:
        assert self.state is not None
        return [n.node_id for n in self.state.nodes_in_order() if n.phase == "Suspended"]

    def perform(self, data: st.DataObject, action: str) -> None:
        assert self.state is not None
        if action == "start":
            assignment = self.dispatched[data.draw(st.sampled_from(self.open))]
            self.step(ev.TaskStarted(assignment.node_id, assignment.attempt, self.at, "w"))
        elif action == "result":
            assignment_id = data.draw(st.sampled_from(self.open))
            self.open.remove(assignment_id)
            assignment = self.dispatched[assignment_id]
            code = data.draw(st.sampled_from([0, 0, 0, 1, 2, 3, 4]))
            params: tuple[ResultParameter, ...] = ()
            if data.draw(st.booleans()):
                params = (ResultParameter("status", data.draw(st.sampled_from(["ok", "bad"]))),)
            report = ev.TaskResultReported(assignment.node_id, assignment.attempt, self.at, code, "", params)
            self.delivered.append(report)
            self.step(report)
        elif action == "duplicate":
            earlier = data.draw(st.sampled_from(self.delivered))
            self.step(evolve(earlier, at=self.at))
        elif action == "stale":
            pool = sorted({*(r.node_id for r in self.delivered), *(self.dispatched[a].node_id for a in self.cancelled)})
            node_id = data.draw(st.sampled_from(pool))
            node = self.state.get_node(node_id)
            current = node.attempt if node is not None else 1
            attempt = data.draw(st.integers(1, current + 1))
            code = data.draw(st.integers(0, 4))
            if data.draw(st.booleans()):
                self.step(ev.TaskResultReported(node_id, attempt, self.at, code, "late"))
            else:
                self.step(ev.TaskStarted(node_id, attempt, self.at, "late"))
        elif action == "timer":
            timer_id = min(self.timers, key=lambda t: self.timers[t])
            due, _seq = self.timers.pop(timer_id)
            self.now = max(self.now, due)
            self.fired.append(timer_id)
            self.step(ev.TimerFired(timer_id, self.at))
        elif action == "timer-again":  # at-least-once delivery, or a timer nobody armed
            timer_id = data.draw(st.sampled_from([*self.fired, "task:no/such/node:0"]))
            self.step(ev.TimerFired(timer_id, self.at))
        elif action == "advance":
            self.now += data.draw(st.sampled_from([100, 1000, 5000]))
        elif action == "resume":
            node_id = data.draw(st.sampled_from(self.suspended()))
            self.step(ev.ResumeRequested(node_id, self.at, {"__resumed": True}))
        elif action == "resume-other":
            ids = [n.node_id for n in self.state.nodes_in_order()] + ["no/such/node"]
            self.step(ev.ResumeRequested(data.draw(st.sampled_from(ids)), self.at, {"k": 1}))
        elif action == "cancel":
            self.step(ev.CancelRequested(self.at))
        else:  # pragma: no cover
            raise AssertionError(action)


@st.composite
def histories(
    draw: st.DrawFn, max_inputs: int = 40, documents: st.SearchStrategy[dict[str, JSON]] | None = None
) -> History:
    """A history of one document from ``documents`` (random valid workflows by default)."""
    document = draw(documents if documents is not None else workflows())
    driver = Driver(document)
    data = draw(st.data())
    for _ in range(max_inputs):
        assert driver.state is not None
        actions = driver.actions()
        if driver.state.terminal:
            # After the end, only late inputs (and sometimes nothing at all).
            late = ("duplicate", "stale", "cancel", "timer", "timer-again", "resume-other")
            actions = [a for a in actions if a in late]
            if not actions or data.draw(st.integers(0, 3)) == 0:
                break
        elif data.draw(st.integers(0, 9)) > 0:
            actions.remove("cancel")  # keep cancels rare, so histories get far
        driver.perform(data, data.draw(st.sampled_from(actions)))
    assert driver.state is not None
    return History(document, tuple(driver.events), driver.state)
