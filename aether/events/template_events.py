"""WorkflowTemplate facts (SPEC §13.1, Extension; §6.6 lets an implementation add events).

A stored WorkflowTemplate is the stream ``template:<namespace>/<name>``: every apply and
every delete is an input recorded there, so the store is audited and a template's state
is the fold of its stream. Registered in ``EVENT_TYPES`` by the catalog's decorator.
"""

from __future__ import annotations

from attrs import frozen

from aether.events.catalog import INPUT, Event, event
from aether.model.json_value import JSON


@event("WorkflowTemplateApplied", INPUT)
@frozen
class WorkflowTemplateApplied(Event):
    """``aether template apply`` stored ``document`` (validated, defaults applied),
    creating the template or replacing what an earlier apply stored."""

    template_id: str  # <namespace>/<name>
    at: str
    document: dict[str, JSON]
    warnings: tuple[str, ...] = ()


@event("WorkflowTemplateDeleted", INPUT)
@frozen
class WorkflowTemplateDeleted(Event):
    """The template is gone from the store; runs that used it keep their snapshot (§13.4)."""

    at: str


__all__ = ["WorkflowTemplateApplied", "WorkflowTemplateDeleted"]
