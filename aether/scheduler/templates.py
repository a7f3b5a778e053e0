"""``decide_template(state, input)`` for a WorkflowTemplate's stream (SPEC §13.1).

The inputs are the facts themselves (an apply, a delete): the decision derives no
further events and has no effects. It only refuses what cannot happen, so the stream
never holds a fact the reducer would reject: deleting a template that is not stored.
A refused input is not written.
"""

from __future__ import annotations

from attrs import frozen

from aether.events.catalog import Event
from aether.events.template_events import WorkflowTemplateApplied, WorkflowTemplateDeleted
from aether.reducers.template import TemplateState, apply_template
from aether.scheduler.effects import Effect

E_TEMPLATE_NOT_FOUND = "E-TEMPLATE-NOT-FOUND"


@frozen
class TemplateRejection:
    code: str
    message: str


@frozen
class TemplateDecision:
    events: tuple[Event, ...]
    effects: tuple[Effect, ...]
    state: TemplateState | None
    rejection: TemplateRejection | None = None


def live(state: TemplateState | None) -> bool:
    return state is not None and not state.deleted


def decide_template(state: TemplateState | None, trigger: Event) -> TemplateDecision:
    if isinstance(trigger, WorkflowTemplateDeleted) and not live(state):
        name = state.template_id if state is not None else "the template"
        return TemplateDecision((), (), state, TemplateRejection(E_TEMPLATE_NOT_FOUND, f"{name} is not stored"))
    if isinstance(trigger, WorkflowTemplateApplied | WorkflowTemplateDeleted):
        return TemplateDecision((), (), apply_template(state, trigger))
    message = f"{trigger.TYPE} is not an input of a WorkflowTemplate's stream"
    return TemplateDecision((), (), state, TemplateRejection("E-TEMPLATE-INPUT", message))


__all__ = ["E_TEMPLATE_NOT_FOUND", "TemplateDecision", "TemplateRejection", "decide_template", "live"]
