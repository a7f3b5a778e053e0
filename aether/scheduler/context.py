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
from aether.events.times import format_ms
from aether.reducers.run import apply
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
    events: tuple[Event, ...]
    effects: tuple[Effect, ...]
    state: RunState
    rejection: Rejection | None = None


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

    def decision(self) -> Decision:
        effects = decision_effects(self.state.run_id, self.events)
        return Decision(tuple(self.events), effects, self.state, self.rejection)
