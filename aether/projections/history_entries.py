"""A run's recorded history as readable entries (``aether history``), computed as the events
stream in; with ``phases_only``, its audit trail.

Events are read and summarised one at a time; nothing loads the whole stream first, so a
run with millions of events prints with constant memory. ``at`` is the time of the
latest input so far (the run's clock: decisions carry no time of their own).

``phases_only`` folds the events with the real reducer and yields the phase changes
found by comparing the state before and after each event, exactly as the
``phase_history`` table does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from attrs import frozen

from aether.events import catalog as ev
from aether.events.phases import Phase
from aether.events.times import format_ms, parse_ms
from aether.model.durations import format_go_duration
from aether.projections.transitions import RUN, PhaseTransition, phase_transitions
from aether.reducers.run import apply
from aether.reducers.state import RunState

_MAX_TEXT = 120


@frozen
class HistoryEntry:
    seq: int  # the event's version in the run's stream
    at: str  # time of the latest input up to and including this event
    type: str
    kind: str  # input | decision
    node_id: str | None  # None: the run itself
    summary: str
    # Set on phase entries (phases_only=True):
    from_phase: Phase | None = None  # None: created by this event
    to_phase: Phase | None = None
    message: str = ""


def iter_history(
    events: Iterable[tuple[int, ev.Event]], *, phases_only: bool = False, node: str | None = None
) -> Iterator[HistoryEntry]:
    """A run's history entries, in order, from its (seq, event) pairs as they stream in.

    ``node`` keeps only entries about that node or a node below it (node ids are paths).
    """
    now_ms: int | None = None
    state: RunState | None = None
    timer_nodes: dict[str, str | None] = {}  # TimerFired names a timer; TimerArmed named its node
    for seq, event in events:
        if event.KIND == ev.INPUT:
            at_ms = parse_ms(event.at)  # type: ignore[attr-defined]  # every input has ``at``
            now_ms = at_ms if now_ms is None else max(now_ms, at_ms)
        at = format_ms(now_ms) if now_ms is not None else ""
        if isinstance(event, ev.TimerArmed):
            timer_nodes[event.timer_id] = event.node_id
        if phases_only:
            before, state = state, apply(state, event)
            for change in phase_transitions(before, state, event):
                entry = phase_entry(seq, at, event.TYPE, event.KIND, change)
                if _matches(entry.node_id, node):
                    yield entry
            continue
        node_id = _node_of(event, timer_nodes)
        if _matches(node_id, node):
            yield HistoryEntry(seq, at, event.TYPE, event.KIND, node_id, summarize(event))


def _matches(node_id: str | None, wanted: str | None) -> bool:
    if wanted is None:
        return True
    return node_id is not None and (node_id == wanted or node_id.startswith(wanted + "/"))


def _node_of(event: ev.Event, timer_nodes: dict[str, str | None]) -> str | None:
    if isinstance(event, ev.TimerFired):
        return timer_nodes.get(event.timer_id)
    node_id = getattr(event, "node_id", None)
    return node_id if isinstance(node_id, str) else None


def phase_entry(seq: int, at: str, event_type: str, kind: str, change: PhaseTransition) -> HistoryEntry:
    """The audit-trail entry of one phase change (the ``phase_history`` table's rows read
    back give the same, ``aether.store.audit``)."""
    node_id = change.node_id if change.node_id != RUN else None
    source = change.from_phase if change.from_phase is not None else "(new)"
    summary = f"{node_id or 'run'} {source} -> {change.to_phase}{_said(change.message)} [{event_type}]"
    return HistoryEntry(seq, at, event_type, kind, node_id, summary, change.from_phase, change.to_phase, change.message)


# --- one line per event type ----------------------------------------------------------------


def oneline(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _MAX_TEXT else flat[: _MAX_TEXT - 1] + "…"


def _said(message: str) -> str:
    return f": {oneline(message)}" if message else ""


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _submitted(e: ev.WorkflowSubmitted) -> str:
    name = (e.document.get("metadata") or {}).get("name") or "(unnamed)"
    out = f"{name} as run {e.run_id}"
    if e.arguments:
        out += f", {_count(len(e.arguments), 'argument')}"
    if e.cron:
        out += f", cron {e.cron.get('name')} @ {e.cron.get('scheduledTime')}"
    if e.origin:
        out += f", {e.origin.get('kind', 'from')} of run {e.origin.get('runId')}"
    return out


def _ignored(e: ev.InputIgnored) -> str:
    target = e.node_id or e.timer_id or "run"
    if e.node_id is not None and e.attempt is not None:
        target = f"{e.node_id}#{e.attempt}"
    detail = f" ({oneline(e.detail)})" if e.detail else ""
    return f"{e.input_type} {target}: {e.reason}{detail}"


def _retry(e: ev.RetryScheduled) -> str:
    when = "now" if e.delay_ms <= 0 else f"in {format_go_duration(e.delay_ms / 1000)}"
    return f"{e.node_id} attempt {e.next_attempt} {when} (retry {e.retry_count})"


def _loop(e: ev.LoopExpanded) -> str:
    if e.mode == "repeat":
        return f"{e.node_id} repeat mode"
    out = f"{e.node_id} {_count(e.count, 'item')} ({e.mode})"
    if e.truncated_from is not None:
        out += f", truncated from {e.truncated_from}"
    return out


def _created(e: ev.NodeCreated) -> str:
    what = e.template_name or e.task_name
    index = f" [{e.index}]" if e.index is not None else ""
    phase = f" {e.phase}" if e.phase != "Created" else ""
    return f"{e.node_id}{index} ({e.template_type} {what}){phase}{_said(e.message)}"


def _dispatched(e: ev.TaskDispatched) -> str:
    out = f"{e.node_id} attempt {e.attempt} ({e.reason})"
    created = e.created
    if created is None:
        return out
    index = f" [{created.index}]" if created.index is not None else ""
    out += f", created{index} (task {created.template_name or created.task_name})"
    if e.assignment.inputs:
        out += f", {_count(len(e.assignment.inputs), 'parameter')}"
    return out


def _started(e: ev.TaskStarted) -> str:
    out = f"{e.node_id}#{e.attempt}" + (f" on {e.worker_id}" if e.worker_id else "")
    return out + (" -> Running" if e.running else "")


def _reported(e: ev.TaskResultReported) -> str:
    out = f"{e.node_id}#{e.attempt} code {e.code}"
    recorded, message = e.recorded, e.message
    if recorded is not None:
        completed = e.completed
        out += f" -> {completed.phase if completed is not None else recorded.phase}"
        if recorded.code != e.code:
            out += f" (recorded as code {recorded.code})"
        decided = completed.message if completed is not None else recorded.message
        if decided and decided != message:
            message = f"{message}; {decided}" if message else decided
    elif e.running:
        out += " -> Running"
    return out + _said(message)


_SUMMARIES: dict[type[ev.Event], Callable[[Any], str]] = {
    ev.WorkflowSubmitted: _submitted,
    ev.TaskStarted: _started,
    ev.AttemptLost: lambda e: (
        f"{e.node_id}#{e.attempt}: {e.reason}"
        + (f" (worker {e.worker_id})" if e.worker_id else "")
        + (f" (owner {e.owner_id})" if e.owner_id else "")
    ),
    ev.TaskResultReported: _reported,
    ev.TimerFired: lambda e: e.timer_id,
    ev.HookDelivered: lambda e: e.idempotency_key + (f" (failed: {oneline(e.error)})" if e.error else ""),
    ev.ResumeRequested: lambda e: e.node_id + (f" with {_count(len(e.payload), 'payload key')}" if e.payload else ""),
    ev.CancelRequested: lambda e: oneline(e.reason),
    ev.NodeCreated: _created,
    ev.PhaseChanged: lambda e: f"{e.node_id or 'run'} {e.from_phase} -> {e.to_phase}{_said(e.message)}",
    ev.InputsBound: lambda e: (
        f"{e.node_id}: {_count(len(e.parameters), 'parameter')}"
        + (f", {_count(len(e.artifacts), 'artifact')}" if e.artifacts else "")
    ),
    ev.TaskDispatched: _dispatched,
    ev.TaskResultRecorded: lambda e: (
        f"{e.node_id}#{e.attempt} code {e.code} -> {e.phase}"
        + (" (deadline)" if e.synthetic else "")
        + _said(e.message)
    ),
    ev.InputIgnored: _ignored,
    ev.InputRejected: lambda e: f"{e.input_type} {e.node_id or 'run'}: {e.code}{_said(e.message)}",
    ev.RetryScheduled: _retry,
    ev.LoopExpanded: _loop,
    ev.RepeatConditionEvaluated: lambda e: f"{e.node_id} iteration {e.index}: {str(e.value).lower()}",
    ev.NodeCompleted: lambda e: f"{e.node_id} {e.from_phase} -> {e.phase}{_said(e.message)}",
    ev.TimerArmed: lambda e: f"{e.timer_id} ({e.purpose}{' ' + e.node_id if e.node_id else ''}) due {e.due_at}",
    ev.TaskCancelRequested: lambda e: f"{e.node_id}#{e.attempt}",
    ev.HookFired: lambda e: f"{e.scope} {e.hook_type}{' ' + e.node_id if e.node_id else ''} -> {e.template}",
    ev.WorkflowCompleted: lambda e: f"{e.from_phase} -> {e.phase}{_said(e.message)}",
}


def summarize(event: ev.Event) -> str:
    """``<Type> <what happened>`` on one line; just the type for events without a summary."""
    describe = _SUMMARIES.get(type(event))
    return f"{event.TYPE} {describe(event)}" if describe is not None else event.TYPE


def summarized_types() -> frozenset[str]:
    return frozenset(cls.TYPE for cls in _SUMMARIES)
