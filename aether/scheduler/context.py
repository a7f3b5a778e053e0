"""The working state of one decision.

``decide`` is pure: it starts from a state, and every event it emits is folded into
a *new* state at once (the input state is never touched), so later steps of the same
decision see the consequences of earlier ones. The result is the list of events and
the effects they ask for, derived from those events
(:mod:`aether.scheduler.outbox`), never stated beside them.
"""

from __future__ import annotations

from attrs import frozen

from aether.events.catalog import Event
from aether.events.compaction import compact_decision
from aether.events.times import format_ms
from aether.reducers.copying import replace
from aether.reducers.run import apply, fold
from aether.reducers.state import NodeState, RunState
from aether.scheduler.effects import Effect
from aether.scheduler.outbox import decision_effects


@frozen
class Rejection:
    """A resume or cancel that was refused; the caller gets this as an error."""

    code: str
    message: str


@frozen
class Decision:
    events: tuple[Event, ...]  # as decided, fine-grained
    effects: tuple[Effect, ...]
    state: RunState  # the run once ``recorded`` is folded
    rejection: Rejection | None = None
    recorded: tuple[Event, ...] = ()  # what the log records: the input and these events, compact


def _recorded(
    before: RunState | None, trigger: Event, events: list[Event], state: RunState
) -> tuple[tuple[Event, ...], RunState]:
    """The compact record of a decision (SPEC §6.6.1), and the state it folds to. That is
    the decider's own state, except where a leaf's creation moved past another node's:
    creation order is the order of the record, so the record is folded again."""
    recorded, reordered = compact_decision(trigger, events)
    count = (before.event_count if before is not None else 0) + len(recorded)
    if reordered:
        return tuple(recorded), fold(recorded, before)  # type: ignore[return-value]
    if state.event_count != count:
        state = replace(state, event_count=count)
    return tuple(recorded), state


class Ctx:
    def __init__(self, state: RunState) -> None:
        self.state = state
        self.events: list[Event] = []
        self.rejection: Rejection | None = None

    def emit(self, event: Event) -> None:
        self.state = apply(self.state, event)
        self.events.append(event)

    def node(self, node_id: str) -> NodeState:
        return self.state.node(node_id)

    @property
    def now_ms(self) -> int:
        return self.state.now_ms

    @property
    def now(self) -> str:
        return format_ms(self.state.now_ms)

    def decision(self, before: RunState | None, trigger: Event) -> Decision:
        """The decision for ``trigger``, which was decided from ``before``."""
        effects = decision_effects(self.state.run_id, self.events)
        recorded, state = _recorded(before, trigger, self.events, self.state)
        return Decision(tuple(self.events), effects, state, self.rejection, recorded)
