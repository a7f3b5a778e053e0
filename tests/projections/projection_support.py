"""Real run histories for the projection tests, made by the conformance harness.

Every upstream workflow example runs once (cached for the session) in its own in-memory
log with the run id set to the example's name; tests copy those streams into the logs
they need, interleaved the way concurrent runs interleave in one log.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from attrs import evolve, frozen
from support.documents import executor, parameters, task, workflow_template

from aether.events.catalog import Event, TaskResultReported, TaskStarted, WorkflowSubmitted
from aether.events.codec import decode
from aether.events.compaction import expand
from aether.events.streams import run_stream
from aether.events.times import datetime_to_ms, format_ms
from aether.model.converter import structure
from aether.model.limits import DEFAULT_LIMITS
from aether.model.problems import ValidationError
from aether.model.types import WorkflowTemplate
from aether.reducers.run import apply
from aether.reducers.state import RunState
from aether.runtime.executors.echo import EchoExecutor
from aether.runtime.submission import load_workflow, submitted_event
from aether.runtime.worker import run_assignment
from aether.scheduler.decide import decide
from aether.scheduler.effects import Dispatch
from aether.store.base import ANY_VERSION, EventLog, PendingEvent
from aether.store.memory import InMemoryEventLog
from tests.conformance.harness import T0, Harness, example_names, load_example

JSON = Any
T0_MS = datetime_to_ms(T0)
CRON_EXAMPLES = {"28-cron-basic", "29-cron-concurrency-forbid", "30-cron-concurrency-replace"}


@frozen
class History:
    run_id: str
    events: tuple[PendingEvent, ...]

    @property
    def stream(self) -> str:
        return run_stream(self.run_id)

    def decoded(self) -> list[Event]:
        from aether.events.codec import decode_raw

        return [decode_raw(e.type, e.schema_version, e.data) for e in self.events]


class NamedIds:
    """Run ids chosen by the test (the harness would number every run "1")."""

    def __init__(self, *names: str) -> None:
        self._names = list(names)

    def new_id(self, kind: str, hint: Mapping[str, str]) -> str:
        return self._names.pop(0)


def _record(log: EventLog, run_id: str) -> History:
    return History(run_id, tuple(PendingEvent(e.type, e.schema_version, e.data) for e in log.read(run_stream(run_id))))


def _run_example(name: str, *, duplicate_reports: bool = False) -> History | None:
    text, assertion = load_example(name)
    log = InMemoryEventLog()
    harness = Harness(log)
    run_id = name + ("+dup" if duplicate_reports else "")
    harness.engine.ids = NamedIds(run_id)
    try:
        harness.run_workflow(text, assertion)
    except ValidationError:
        return None  # an example whose point is to be rejected at submit
    if duplicate_reports:
        # A worker that reports everything twice, late: each report is ignored for the
        # audit trail (duplicate or stale attempt) and changes nothing else.
        for dispatched in list(harness.dispatched):
            harness.work(dispatched.assignment)
    return _record(log, run_id)


@cache
def example_histories() -> tuple[History, ...]:
    """One history per upstream workflow example that runs, plus two with duplicate reports."""
    out: list[History] = []
    for name in example_names():
        if name in CRON_EXAMPLES:
            continue
        history = _run_example(name)
        if history is not None:
            out.append(history)
    for name in ("09-dag-retry", "11-await-suspend"):
        history = _run_example(name, duplicate_reports=True)
        assert history is not None
        out.append(history)
    return tuple(out)


def history_named(prefix: str) -> History:
    return next(h for h in example_histories() if h.run_id.startswith(prefix))


TEMPLATE_LIBRARY = workflow_template(
    "lib",
    task(
        "work",
        executor("echo"),
        inputs=parameters({"outputs": [{"name": "r", "value": 7}]}),
        outputs=parameters(declared=["r"]),
    ),
)
TEMPLATE_REF_WORKFLOW = """
{"apiVersion": "aether/v1", "kind": "Workflow", "metadata": {"name": "uses-lib", "labels": {"team": "a"}},
 "spec": {"entrypoint": "main", "templates": [
   {"dag": {"name": "main", "tasks": [
      {"name": "a", "templateRef": {"name": "lib", "template": "work"}},
      {"name": "b", "templateRef": {"name": "lib", "template": "work"}, "dependencies": ["a"]}]}}]}}
"""


def drive_decide(submitted: WorkflowSubmitted) -> History:
    """Run a submitted workflow by calling ``decide`` directly, the echo executor doing
    every dispatched attempt in order (what the engine and one FIFO worker would do)."""
    from aether.events.codec import encode

    at = submitted.at
    decision = decide(None, submitted)
    events: list[Event] = list(decision.recorded)
    state = decision.state
    queue = [e.assignment for e in decision.effects if isinstance(e, Dispatch)]
    while queue:
        assignment = queue.pop(0)
        result = run_assignment(assignment, {"echo": EchoExecutor()}, now=lambda: T0)
        for trigger in (
            TaskStarted(assignment.node_id, assignment.attempt, at, "worker-1"),
            TaskResultReported(
                assignment.node_id,
                assignment.attempt,
                at,
                result.code,
                result.message,
                result.parameters,
                result.artifacts,
                "worker-1",
            ),
        ):
            decision = decide(state, trigger)
            events += decision.recorded
            state = decision.state
            queue += [e.assignment for e in decision.effects if isinstance(e, Dispatch)]
    return History(submitted.run_id, tuple(encode(e) for e in events))


@cache
def template_ref_history() -> History:
    """A run whose tasks come from a WorkflowTemplate (a non-empty templates snapshot).

    Driven through ``decide`` rather than the engine, and with the snapshot keyed by the
    template's bare name: ``RunPlan.target_of`` looks scopes up by ``templateRef.name``
    while submission keys the snapshot ``<namespace>/<name>``, so a templateRef run
    submitted through the engine cannot start (a core bug, reported).
    """
    library = structure(TEMPLATE_LIBRARY, WorkflowTemplate)
    prepared = load_workflow(
        TEMPLATE_REF_WORKFLOW,
        limits=DEFAULT_LIMITS,
        template_lookup=lambda namespace, name: library if name == "lib" else None,
    )
    snapshot = {key.rsplit("/", 1)[-1]: templates for key, templates in prepared.templates_snapshot.items()}
    submitted = submitted_event(
        evolve(prepared, templates_snapshot=snapshot),
        run_id="template-ref",
        at=format_ms(T0_MS),
        variables={},
        limits=DEFAULT_LIMITS,
    )
    return drive_decide(submitted)


# --- building logs ------------------------------------------------------------------------


def interleaved(histories: Sequence[History], seed: int = 7) -> list[tuple[str, list[PendingEvent]]]:
    """Append requests that interleave the histories in random chunks, each stream in order."""
    rng = random.Random(seed)
    cursors = {h.stream: 0 for h in histories}
    by_stream = {h.stream: h.events for h in histories}
    out: list[tuple[str, list[PendingEvent]]] = []
    while cursors:
        stream = rng.choice(sorted(cursors))
        start = cursors[stream]
        end = min(start + rng.randint(1, 6), len(by_stream[stream]))
        out.append((stream, list(by_stream[stream][start:end])))
        if end == len(by_stream[stream]):
            del cursors[stream]
        else:
            cursors[stream] = end
    return out


def fill(log: EventLog, histories: Sequence[History], seed: int = 7) -> None:
    for stream, events in interleaved(histories, seed):
        log.append(stream, events, ANY_VERSION)


# --- expected values by brute force ---------------------------------------------------------


def states_by_version(events: Iterable[Event]) -> list[RunState]:
    """``out[v - 1]`` is the state after version v."""
    out: list[RunState] = []
    state: RunState | None = None
    for event in events:
        state = apply(state, event)
        out.append(state)
    return out


def comparable(state: RunState) -> RunState:
    """The state without its plan: ``RunPlan`` compares by identity."""
    return state  # the plan is derived and left out of equality


def assert_same_state(got: RunState | None, want: RunState | None) -> None:
    assert (got is None) == (want is None)
    if got is None or want is None:
        return
    assert comparable(got) == comparable(want)
    assert got.plan.workflow == want.plan.workflow
    assert got.plan.scopes == want.plan.scopes
    assert got.plan.entry_key == want.plan.entry_key


def brute_force_transitions(run_id: str, events: Sequence[Event]) -> list[tuple[Any, ...]]:
    """phase_history rows by scanning every node before and after every event; a compact
    record (SPEC §6.6.1) is scanned step by step, as the fine-grained events it stands for."""
    rows: list[tuple[Any, ...]] = []
    state: RunState | None = None
    steps = ((version, event, fine) for version, event in enumerate(events, start=1) for fine in expand(event))
    for version, event, fine in steps:
        before, state = state, apply(state, fine)
        at = format_ms(state.now_ms)
        for node in state.nodes_in_order():
            old = before.get_node(node.node_id) if before is not None else None
            if old is None or old.phase != node.phase:
                rows.append(
                    (
                        run_id,
                        version,
                        at,
                        node.node_id,
                        old.phase if old else None,
                        node.phase,
                        node.message,
                        event.TYPE,
                    )
                )
        old_run = before.phase if before is not None else None
        if old_run != state.phase:
            rows.append((run_id, version, at, "", old_run, state.phase, state.message, event.TYPE))
    return sorted(rows, key=lambda r: (r[0], r[1], r[3]))


def decoded_stream(log: EventLog, stream: str) -> list[Event]:
    return [decode(e) for e in log.read(stream)]
