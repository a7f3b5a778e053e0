"""The event catalog (SPEC §6.6, ARCHITECTURE layer 3).

One frozen class per fact, named in the past tense. *Inputs* come from outside the
decider (submit, worker reports, timers, people); *decisions* are what ``decide``
derived from them. Replaying the inputs through ``decide`` reproduces the decisions.

Phase changes are recorded explicitly by ``PhaseChanged`` except where the fact
itself is the transition: ``NodeCreated`` (to its initial phase), ``TaskDispatched``
(a leaf to ``Ready``), ``NodeCompleted`` (a node to its terminal phase) and
``WorkflowCompleted`` (the run to its terminal phase). The audit trail is derived
from all of them by the phase-history projection.

A task's happy path is recorded in three events (SPEC §6.6.1): ``TaskDispatched`` also
holds the leaf's creation and bound inputs, ``TaskStarted`` is itself the move to
``Running``, and ``TaskResultReported`` also holds the recorded result and the node's
completion. Those parts are decisions carried by the event that caused them; see
:mod:`aether.events.compaction` for how a decision is written that way and read back.

Events never hold secret values: bound inputs keep ``secretKeyRef`` references only.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from attrs import field, frozen

from aether.events.assignment import TaskAssignment
from aether.events.phases import Phase
from aether.events.timers import TimerPurpose
from aether.events.values import BoundParameter, ResultParameter
from aether.model.json_value import JSON
from aether.model.types import TemplateType

EventKind = Literal["input", "decision"]

INPUT: EventKind = "input"
DECISION: EventKind = "decision"


class Event:
    """Base of every event class. ``TYPE``, ``VERSION`` and ``KIND`` are set by :func:`event`."""

    __slots__ = ()

    TYPE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1
    KIND: ClassVar[EventKind] = DECISION


EVENT_TYPES: dict[str, type[Event]] = {}


def event(type_name: str, kind: EventKind, version: int = 1) -> Any:
    def register(cls: type[Event]) -> type[Event]:
        if type_name in EVENT_TYPES:
            raise ValueError(f"event type {type_name!r} registered twice")
        cls.TYPE = type_name
        cls.VERSION = version
        cls.KIND = kind
        EVENT_TYPES[type_name] = cls
        return cls

    return register


# --- run inputs ----------------------------------------------------------------------------


@event("WorkflowSubmitted", INPUT)
@frozen
class WorkflowSubmitted(Event):
    run_id: str
    at: str
    document: dict[str, JSON]  # resolved wire form: references merged, defaults applied
    arguments: dict[str, JSON] = field(factory=dict)
    variables: dict[str, JSON] = field(factory=dict)  # flat snapshot of the variable sources
    warnings: tuple[str, ...] = ()
    idempotency_key: str | None = None
    cron: dict[str, JSON] | None = None  # {name, namespace, scheduledTime, trigger}
    limits: dict[str, int] = field(factory=dict)
    templates_snapshot: dict[str, JSON] = field(factory=dict)
    origin: dict[str, JSON] | None = None  # a retried or reset run: {runId, kind, ...}


# --- parts of a task's life that its dispatch, start or result event carries ----------------


@frozen
class LeafCreation:
    """A leaf created and dispatched by one decision: ``NodeCreated`` (phase ``Created``)
    and, when ``bound``, ``InputsBound`` with the assignment's inputs and artifacts."""

    parent_id: str | None
    task_name: str
    template_name: str
    depth: int
    index: int | None = None
    task_index: int | None = None
    warnings: tuple[str, ...] = ()  # from evaluating the task's `when`
    bound: bool = False
    input_warnings: tuple[str, ...] = ()


@frozen
class RecordedResult:
    """The ``TaskResultRecorded`` decided for the result that carries it."""

    code: int
    phase: Phase
    message: str = ""
    outputs: tuple[ResultParameter, ...] = ()
    accumulated: tuple[ResultParameter, ...] = ()
    warnings: tuple[str, ...] = ()


@frozen
class Completion:
    """The ``NodeCompleted`` of the leaf whose result carries it; its outputs are the
    recorded result's."""

    phase: Phase
    from_phase: Phase = "Running"
    message: str = ""
    warnings: tuple[str, ...] = ()


@event("TaskStarted", INPUT)
@frozen
class TaskStarted(Event):
    node_id: str
    attempt: int
    at: str
    worker_id: str = ""
    running: bool = False  # the start was accepted: the leaf moved Ready -> Running


@event("TaskResultReported", INPUT)
@frozen
class TaskResultReported(Event):
    node_id: str
    attempt: int
    at: str
    code: int = 0
    message: str = ""
    parameters: tuple[ResultParameter, ...] = ()
    artifacts: tuple[dict[str, JSON], ...] = ()
    worker_id: str = ""
    running: bool = False  # the result implied the start: the leaf moved Ready -> Running
    recorded: RecordedResult | None = None
    completed: Completion | None = None


@event("TimerFired", INPUT)
@frozen
class TimerFired(Event):
    timer_id: str
    at: str


@event("ResumeRequested", INPUT)
@frozen
class ResumeRequested(Event):
    node_id: str
    at: str
    payload: dict[str, JSON] = field(factory=dict)


@event("CancelRequested", INPUT)
@frozen
class CancelRequested(Event):
    at: str
    reason: str = "cancelled by user"


@event("AttemptLost", INPUT)
@frozen
class AttemptLost(Event):
    """The runtime observed that an attempt can no longer report (SPEC §6.3): its claim
    expired, or its worker or engine stopped before it reported a result."""

    node_id: str
    attempt: int
    at: str
    reason: str  # claim-expired | worker-stopped | engine-stopped
    worker_id: str = ""
    owner_id: str = ""


@event("HookDelivered", INPUT)
@frozen
class HookDelivered(Event):
    """The notifiers were called for a fired hook (``error`` says how one failed: a warning,
    never a change to the run). A hook fired but not delivered is sent again at recovery,
    with the same idempotency key (SPEC §11.5: delivered at least once)."""

    idempotency_key: str
    at: str
    error: str = ""


# --- run decisions -------------------------------------------------------------------------


@event("NodeCreated", DECISION)
@frozen
class NodeCreated(Event):
    node_id: str
    parent_id: str | None
    task_name: str
    template_name: str
    template_type: TemplateType
    depth: int
    phase: Phase = "Created"  # Created or Skipped
    message: str = ""
    index: int | None = None  # iterations
    task_index: int | None = None  # position of the call site in its DAG
    warnings: tuple[str, ...] = ()  # from evaluating the task's `when`


@event("PhaseChanged", DECISION)
@frozen
class PhaseChanged(Event):
    node_id: str | None  # None: the run
    from_phase: Phase
    to_phase: Phase
    message: str = ""


@event("InputsBound", DECISION)
@frozen
class InputsBound(Event):
    node_id: str
    parameters: tuple[BoundParameter, ...] = ()
    artifacts: tuple[dict[str, JSON], ...] = ()
    warnings: tuple[str, ...] = ()


@event("TaskDispatched", DECISION)
@frozen
class TaskDispatched(Event):
    node_id: str
    attempt: int
    reason: str  # initial | retry | resume
    assignment: TaskAssignment
    deadline_ms: int | None = None
    created: LeafCreation | None = None  # the first attempt of a leaf created by the same decision


@event("TaskResultRecorded", DECISION)
@frozen
class TaskResultRecorded(Event):
    node_id: str
    attempt: int
    code: int
    phase: Phase  # after phaseConditions
    message: str = ""
    outputs: tuple[ResultParameter, ...] = ()
    accumulated: tuple[ResultParameter, ...] = ()  # raw parameters kept while suspended
    warnings: tuple[str, ...] = ()
    synthetic: bool = False  # a task deadline, not a worker's report


@event("InputIgnored", DECISION)
@frozen
class InputIgnored(Event):
    input_type: str
    reason: str  # stale-attempt | duplicate | node-terminal | run-terminal | unknown-node | not-ready
    node_id: str | None = None
    attempt: int | None = None
    timer_id: str | None = None
    detail: str = ""


@event("InputRejected", DECISION)
@frozen
class InputRejected(Event):
    input_type: str
    code: str
    message: str
    node_id: str | None = None


@event("RetryScheduled", DECISION)
@frozen
class RetryScheduled(Event):
    node_id: str
    next_attempt: int
    retry_count: int  # retries used once the next attempt runs
    delay_ms: int = 0
    warnings: tuple[str, ...] = ()


@event("LoopExpanded", DECISION)
@frozen
class LoopExpanded(Event):
    node_id: str
    count: int
    items: tuple[JSON, ...] = ()
    truncated_from: int | None = None
    mode: str = "items"  # items | itemsFrom | repeat
    warnings: tuple[str, ...] = ()


@event("RepeatConditionEvaluated", DECISION)
@frozen
class RepeatConditionEvaluated(Event):
    node_id: str
    index: int
    value: bool
    warnings: tuple[str, ...] = ()


@event("NodeCompleted", DECISION)
@frozen
class NodeCompleted(Event):
    node_id: str
    from_phase: Phase
    phase: Phase
    message: str = ""
    outputs: tuple[ResultParameter, ...] | None = None
    warnings: tuple[str, ...] = ()


@event("TimerArmed", DECISION)
@frozen
class TimerArmed(Event):
    timer_id: str
    due_ms: int
    due_at: str
    purpose: TimerPurpose
    node_id: str | None = None


@event("TaskCancelRequested", DECISION)
@frozen
class TaskCancelRequested(Event):
    assignment_id: str
    node_id: str
    attempt: int


@event("HookFired", DECISION)
@frozen
class HookFired(Event):
    hook_type: str
    scope: str  # workflow | task
    node_id: str | None
    template: str
    idempotency_key: str
    payload: dict[str, JSON]


@event("WorkflowCompleted", DECISION)
@frozen
class WorkflowCompleted(Event):
    from_phase: Phase
    phase: Phase
    message: str = ""
    outputs: tuple[ResultParameter, ...] = ()


# --- idempotency index ----------------------------------------------------------------------


@event("SubmissionKeyClaimed", INPUT)
@frozen
class SubmissionKeyClaimed(Event):
    """The only event of stream ``submit-key:<key>``: which run a submit idempotency key
    created. Appended with the run's first events, in one transaction, expecting an empty
    stream, so two submissions with one key can never both create a run."""

    run_id: str
    at: str


# --- cron stream ---------------------------------------------------------------------------


@event("CronRegistered", INPUT)
@frozen
class CronRegistered(Event):
    cron_id: str
    at: str
    document: dict[str, JSON]
    warnings: tuple[str, ...] = ()


@event("CronUpdated", INPUT)
@frozen
class CronUpdated(Event):
    at: str
    document: dict[str, JSON]


@event("CronDeleted", INPUT)
@frozen
class CronDeleted(Event):
    at: str


@event("CronTicked", INPUT)
@frozen
class CronTicked(Event):
    scheduled_time: str
    at: str
    trigger: str  # scheduled | catchup | manual | backfill


@event("CronRunFinished", INPUT)
@frozen
class CronRunFinished(Event):
    run_id: str
    phase: Phase
    at: str


@event("CronTickSkipped", DECISION)
@frozen
class CronTickSkipped(Event):
    scheduled_time: str
    reason: str  # suspended | before-start | after-end | deadline | forbidden | missed
    trigger: str = "scheduled"
    count: int = 1


@event("CronRunSubmitted", DECISION)
@frozen
class CronRunSubmitted(Event):
    scheduled_time: str
    run_id: str
    trigger: str
    idempotency_key: str


@event("CronRunReplaced", DECISION)
@frozen
class CronRunReplaced(Event):
    run_id: str
    scheduled_time: str


@event("RunPruned", DECISION)
@frozen
class RunPruned(Event):
    run_id: str
    phase: Phase


def input_types() -> frozenset[str]:
    return frozenset(name for name, cls in EVENT_TYPES.items() if cls.KIND == INPUT)
