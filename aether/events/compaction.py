"""How a decision is recorded: a task's happy path in three events (SPEC §6.6.1).

``decide`` derives a decision as fine-grained events (``NodeCreated``, ``InputsBound``,
``PhaseChanged``, ``TaskResultRecorded``, ``NodeCompleted`` ...). Before they are
appended, :func:`compact_decision` folds the ones that belong to one task into the
event that caused them:

- a leaf created and dispatched by the same decision is recorded by its
  ``TaskDispatched`` alone, which carries the creation and the bound inputs
  (:class:`~aether.events.catalog.LeafCreation`), at the dispatch's place;
- an accepted start is recorded by ``TaskStarted`` with ``running`` set, in place of the
  leaf's ``PhaseChanged`` to ``Running`` that followed it;
- a result is recorded by ``TaskResultReported`` carrying what was decided for the leaf
  right after it: the implied start, the ``TaskResultRecorded`` and the
  ``NodeCompleted``.

Only what immediately follows an input is folded into it, so no consequence moves
ahead of another; a leaf's creation moves later, to its dispatch, and crosses only
events that do not concern that leaf. :func:`expand` gives the fine-grained events
back, in the order of the compact record; the audit trail, the history and the tests
read a run through it.

Histories recorded before compact records fold as they are (every fine-grained event
is still in the catalog); ``replay --verify`` upcasts each of their decisions with
:func:`compact_decision` before comparing it with today's.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from aether.events.catalog import (
    Completion,
    Event,
    InputsBound,
    LeafCreation,
    NodeCompleted,
    NodeCreated,
    PhaseChanged,
    RecordedResult,
    TaskDispatched,
    TaskResultRecorded,
    TaskResultReported,
    TaskStarted,
)
from aether.events.phases import Phase

_START: tuple[Phase, Phase] = ("Ready", "Running")


def compact_decision(trigger: Event, decisions: Sequence[Event]) -> tuple[list[Event], bool]:
    """The events to record for ``trigger`` and its ``decisions``, and whether a leaf's
    creation moved past another node's (the creation order then differs from the order
    the decider created nodes in)."""
    first, rest = _absorb_into_input(trigger, decisions)
    body, reordered = _merge_leaf_creations(rest)
    return [first, *body], reordered


def _is_start_of(event: Event, node_id: str) -> bool:
    return (
        isinstance(event, PhaseChanged)
        and event.node_id == node_id
        and (event.from_phase, event.to_phase) == _START
        and not event.message
    )


def _absorb_into_input(trigger: Event, decisions: Sequence[Event]) -> tuple[Event, Sequence[Event]]:
    if isinstance(trigger, TaskStarted):
        if not trigger.running and decisions and _is_start_of(decisions[0], trigger.node_id):
            return attrs.evolve(trigger, running=True), decisions[1:]
        return trigger, decisions
    if not isinstance(trigger, TaskResultReported) or trigger.recorded is not None or trigger.running:
        return trigger, decisions
    node_id, at = trigger.node_id, 0
    running = bool(decisions) and _is_start_of(decisions[0], node_id)
    at += running
    recorded: RecordedResult | None = None
    completed: Completion | None = None
    result = decisions[at] if at < len(decisions) else None
    if (
        isinstance(result, TaskResultRecorded)
        and result.node_id == node_id
        and result.attempt == trigger.attempt
        and not result.synthetic
    ):
        recorded = RecordedResult(
            result.code, result.phase, result.message, result.outputs, result.accumulated, result.warnings
        )
        at += 1
        end = decisions[at] if at < len(decisions) else None
        if isinstance(end, NodeCompleted) and end.node_id == node_id and end.outputs == result.outputs:
            completed = Completion(end.phase, end.from_phase, end.message, end.warnings)
            at += 1
    if not at:
        return trigger, decisions
    return attrs.evolve(trigger, running=running, recorded=recorded, completed=completed), decisions[at:]


def _merge_leaf_creations(events: Sequence[Event]) -> tuple[list[Event], bool]:
    out: list[Event | None] = list(events)
    created_at: dict[str, int] = {}  # leaf id -> position of its NodeCreated, while mergeable
    bound_at: dict[str, int] = {}
    for position, event in enumerate(events):
        if isinstance(event, NodeCreated):
            if event.template_type == "task" and event.phase == "Created" and not event.message:
                created_at[event.node_id] = position
            continue
        node_id = getattr(event, "node_id", None)
        if not isinstance(node_id, str) or node_id not in created_at:
            continue
        if isinstance(event, InputsBound) and node_id not in bound_at:
            bound_at[node_id] = position
            continue
        start = created_at.pop(node_id)
        bound = bound_at.pop(node_id, None)
        if not isinstance(event, TaskDispatched) or event.attempt != 1 or event.created is not None:
            continue  # something else happened to the leaf first: record it as decided
        inputs = events[bound] if bound is not None else None
        assignment = event.assignment
        if inputs is not None and (
            not isinstance(inputs, InputsBound)
            or inputs.parameters != assignment.inputs
            or inputs.artifacts != assignment.artifacts
        ):
            continue
        if inputs is None and (assignment.inputs or assignment.artifacts):
            continue
        creation = events[start]
        assert isinstance(creation, NodeCreated)
        out[start] = None
        if bound is not None:
            out[bound] = None
        out[position] = attrs.evolve(
            event,
            created=LeafCreation(
                creation.parent_id,
                creation.task_name,
                creation.template_name,
                creation.depth,
                creation.index,
                creation.task_index,
                creation.warnings,
                inputs is not None,
                inputs.warnings if inputs is not None else (),
            ),
        )
    recorded = [event for event in out if event is not None]
    if len(recorded) == len(events):
        return recorded, False
    return recorded, _creation_order(recorded) != _creation_order(events)


def _creation_order(events: Sequence[Event]) -> list[str]:
    return [
        event.node_id
        for event in events
        if isinstance(event, NodeCreated) or (isinstance(event, TaskDispatched) and event.created is not None)
    ]


def plain_input(event: Event) -> Event:
    """An input as it arrived, without the decisions its record carries."""
    if isinstance(event, TaskStarted) and event.running:
        return attrs.evolve(event, running=False)
    if isinstance(event, TaskResultReported) and (event.running or event.recorded or event.completed):
        return attrs.evolve(event, running=False, recorded=None, completed=None)
    return event


def is_compact(event: Event) -> bool:
    """Whether ``event`` carries decisions besides its own fact."""
    if isinstance(event, TaskDispatched):
        return event.created is not None
    if isinstance(event, TaskStarted):
        return event.running
    if isinstance(event, TaskResultReported):
        return event.running or event.recorded is not None
    return False


def expand(event: Event) -> list[Event]:
    """The fine-grained events a recorded event stands for, in order (the event itself
    when it carries nothing else)."""
    if isinstance(event, TaskDispatched) and event.created is not None:
        return _expand_dispatch(event, event.created)
    if isinstance(event, TaskStarted) and event.running:
        return [attrs.evolve(event, running=False), PhaseChanged(event.node_id, *_START)]
    if isinstance(event, TaskResultReported) and (event.running or event.recorded is not None):
        return _expand_result(event)
    return [event]


def _expand_dispatch(event: TaskDispatched, created: LeafCreation) -> list[Event]:
    node_id = event.node_id
    fine: list[Event] = [
        NodeCreated(
            node_id,
            created.parent_id,
            created.task_name,
            created.template_name,
            "task",
            created.depth,
            "Created",
            "",
            created.index,
            created.task_index,
            created.warnings,
        )
    ]
    if created.bound:
        assignment = event.assignment
        fine.append(InputsBound(node_id, assignment.inputs, assignment.artifacts, created.input_warnings))
    fine.append(attrs.evolve(event, created=None))
    return fine


def _expand_result(event: TaskResultReported) -> list[Event]:
    node_id, recorded, completed = event.node_id, event.recorded, event.completed
    fine: list[Event] = [attrs.evolve(event, running=False, recorded=None, completed=None)]
    if event.running:
        fine.append(PhaseChanged(node_id, *_START))
    if recorded is not None:
        fine.append(
            TaskResultRecorded(
                node_id,
                event.attempt,
                recorded.code,
                recorded.phase,
                recorded.message,
                recorded.outputs,
                recorded.accumulated,
                recorded.warnings,
            )
        )
        if completed is not None:
            fine.append(
                NodeCompleted(
                    node_id,
                    completed.from_phase,
                    completed.phase,
                    completed.message,
                    recorded.outputs,
                    completed.warnings,
                )
            )
    return fine


def expand_all(events: Sequence[Event]) -> list[Event]:
    return [fine for event in events for fine in expand(event)]


__all__ = ["compact_decision", "expand", "expand_all", "is_compact", "plain_input"]
