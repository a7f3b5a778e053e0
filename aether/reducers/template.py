"""``apply_template(state, event) -> state`` for a WorkflowTemplate's stream
``template:<namespace>/<name>`` (SPEC §13.1, ARCHITECTURE layer 4).

Each apply carries the whole document, so the state is the last one applied, with the
bookkeeping a listing shows: when the template was first created, when it last changed
and how many applies it has had. A delete keeps the name's history; a later apply
starts the template again from revision 1.

Pure: time comes from the events' ``at`` fields.
"""

from __future__ import annotations

from attrs import frozen

from aether.events.catalog import Event
from aether.events.template_events import WorkflowTemplateApplied, WorkflowTemplateDeleted
from aether.events.times import parse_ms
from aether.model.defaults import DEFAULT_NAMESPACE
from aether.model.json_value import JSON
from aether.reducers.copying import replace
from aether.reducers.errors import IllegalTransition


@frozen
class TemplateState:
    namespace: str
    name: str
    document: dict[str, JSON]  # the last document applied: validated, defaults applied
    warnings: tuple[str, ...]
    created_ms: int
    updated_ms: int
    revision: int  # applies since the template was (re)created
    deleted: bool = False

    @property
    def template_id(self) -> str:
        return f"{self.namespace}/{self.name}"


def apply_template(state: TemplateState | None, event: Event) -> TemplateState:
    """Fold one event into a template's state; ``state`` is None before the first apply."""
    if isinstance(event, WorkflowTemplateApplied):
        at = parse_ms(event.at)
        if state is None or state.deleted:
            metadata = event.document.get("metadata") or {}
            return TemplateState(
                namespace=metadata.get("namespace") or DEFAULT_NAMESPACE,
                name=metadata.get("name") or "",
                document=event.document,
                warnings=event.warnings,
                created_ms=at,
                updated_ms=at,
                revision=1,
            )
        return replace(
            state, document=event.document, warnings=event.warnings, updated_ms=at, revision=state.revision + 1
        )
    if isinstance(event, WorkflowTemplateDeleted):
        if state is None or state.deleted:
            raise IllegalTransition("WorkflowTemplateDeleted for a template that is not stored")
        return replace(state, deleted=True, updated_ms=parse_ms(event.at))
    raise IllegalTransition(f"{event.TYPE} does not belong in a WorkflowTemplate's history")


__all__ = ["TemplateState", "apply_template"]
