"""Phase transitions of one event, found by comparing the state before and after it.

The audit trail is not a second phase machine: the real reducer decides what an event
does, and this module only reads the difference. That covers the transitions the
catalog records implicitly (``NodeCreated`` to Created/Skipped, ``TaskDispatched`` to
Ready, ``NodeCompleted`` and ``WorkflowCompleted`` to a terminal phase) exactly like
``PhaseChanged``.

Only the event's node and its ancestors are compared, not every node: the reducer
changes no other node (a child's creation or completion updates its parent's counters, a
dispatch marks its ancestors), and a full scan would make the cost per event grow with
the run (ARCHITECTURE rule 7); the chain is as long as the nesting, which is bounded.
Persistent maps make the comparison an identity check: an untouched node is the very
same object before and after. The projection tests check all this against a scan of
every node.
"""

from __future__ import annotations

from attrs import frozen

from aether.events.catalog import Event, TaskDispatched, TaskResultReported, TaskStarted
from aether.events.compaction import expand, is_compact
from aether.events.phases import Phase
from aether.reducers.run import apply
from aether.reducers.state import NodeState, RunState

RUN = ""  # the node id the audit trail uses for the run itself


@frozen
class PhaseTransition:
    node_id: str  # RUN for the run
    from_phase: Phase | None  # None: the node or run was created by this event
    to_phase: Phase
    message: str


def changed_node_ids(before: RunState | None, after: RunState, event: Event) -> list[str]:
    """The nodes ``event`` changed, from its own node up through its ancestors."""
    node_id = getattr(event, "node_id", None)
    out: list[str] = []
    current = node_id if isinstance(node_id, str) else None
    while current is not None:
        new = after.get_node(current)
        if new is None:
            break
        if before is None or before.get_node(current) is not new:
            out.append(current)
        current = new.parent_id
    return out


def _redispatch_message(node: NodeState, event: Event) -> str:
    """Why a running task went back to Ready when its attempt was lost: the audit trail
    says so, since the node's own message is cleared for the new attempt."""
    if not isinstance(event, TaskDispatched) or event.reason != "lost" or len(node.attempts) < 2:
        return ""
    previous = node.attempts[-2]
    return f"attempt {previous.number} {previous.message or 'lost'}; attempt {event.attempt} dispatched"


def phase_transitions(
    before: RunState | None, after: RunState, event: Event, changed: list[str] | None = None
) -> list[PhaseTransition]:
    """Every phase change ``event`` caused: nodes first (bottom up), then the run.
    ``changed`` is ``changed_node_ids`` of the same arguments, when already known.

    An event that carries a task's creation, start or result (SPEC §6.6.1) gives each
    step its own transition, as the fine-grained events it stands for would: a leaf
    created and dispatched goes None -> Created -> Ready, not None -> Ready."""
    if is_compact(event):
        return compact_transitions(before, event)
    out: list[PhaseTransition] = []
    for node_id in changed if changed is not None else changed_node_ids(before, after, event):
        old: NodeState | None = before.get_node(node_id) if before is not None else None
        new = after.node(node_id)
        if old is None or old.phase != new.phase:
            message = _redispatch_message(new, event) or new.message
            out.append(PhaseTransition(node_id, old.phase if old is not None else None, new.phase, message))
    old_run = before.phase if before is not None else None
    if old_run != after.phase:
        out.append(PhaseTransition(RUN, old_run, after.phase, after.message))
    return out


def compact_transitions(before: RunState | None, event: Event) -> list[PhaseTransition]:
    """The transitions of a record that carries a task's creation, start or result, step by
    step, read from the record itself: each step it stands for moves only its own node (a
    leaf's creation, dispatch, start, result and completion change their parent's counters,
    never its phase, nor the run's). Equal to ``stepwise`` of the same arguments, without
    folding each step; the projection tests hold the two together."""
    if isinstance(event, TaskDispatched):  # a leaf created (Created) and dispatched (Ready)
        return [
            PhaseTransition(event.node_id, None, "Created", ""),
            PhaseTransition(event.node_id, "Created", "Ready", ""),
        ]
    assert isinstance(event, TaskStarted | TaskResultReported) and before is not None
    node_id = event.node_id
    phase = before.node(node_id).phase
    out: list[PhaseTransition] = []
    if event.running:
        out.append(PhaseTransition(node_id, phase, "Running", ""))
        phase = "Running"
    if isinstance(event, TaskStarted) or event.recorded is None:
        return out
    recorded, completed = event.recorded, event.completed
    if recorded.phase == "Suspended" and phase != "Suspended":
        out.append(PhaseTransition(node_id, phase, "Suspended", recorded.message))
    if completed is not None:
        out.append(PhaseTransition(node_id, completed.from_phase, completed.phase, completed.message))
    return out


def stepwise(before: RunState | None, event: Event) -> list[PhaseTransition]:
    """The transitions of a compact record found by folding each event it stands for."""
    out: list[PhaseTransition] = []
    state = before
    for fine in expand(event):
        after = apply(state, fine)
        out.extend(phase_transitions(state, after, fine))
        state = after
    return out
