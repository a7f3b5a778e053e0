"""The defaults of SPEC §2.10, applied after template-reference resolution and before
validation, and recorded in the resolved document.

A WorkflowSpec that still has a ``workflowTemplateRef`` (a CronWorkflow resolves it at
each tick, §13.4) keeps its own fields unset: "the Workflow's value if set, else the
template's" must still see them absent when the merge happens.
"""

from __future__ import annotations

from typing import Any, TypeVar

from attrs import evolve

from aether.model.types import (
    Aggregate,
    CronWorkflow,
    CronWorkflowSpec,
    Metadata,
    Template,
    Workflow,
    WorkflowSpec,
    WorkflowTemplate,
)

DEFAULT_NAMESPACE = "default"
DEFAULT_TIMEOUT = "1h"
DEFAULT_PRIORITY = 500
DEFAULT_MAX_NESTED_DEPTH = 3
DEFAULT_TIMEZONE = "UTC"
DEFAULT_CONCURRENCY_POLICY = "Allow"
DEFAULT_SUCCESSFUL_HISTORY = 3
DEFAULT_FAILED_HISTORY = 1
DEFAULT_AGGREGATE_STRATEGY = "last"

D = TypeVar("D", bound=Workflow | CronWorkflow | WorkflowTemplate)


def _metadata(metadata: Metadata | None) -> Metadata:
    metadata = metadata if metadata is not None else Metadata()
    if metadata.namespace:
        return metadata
    return evolve(metadata, namespace=DEFAULT_NAMESPACE)


def _template(template: Template) -> Template:
    loop = template.loop
    if loop is None:
        return template
    aggregate = loop.aggregate if loop.aggregate is not None else Aggregate()
    if aggregate.strategy:
        return template
    aggregate = evolve(aggregate, strategy=DEFAULT_AGGREGATE_STRATEGY)
    return evolve(template, loop=evolve(loop, aggregate=aggregate))


def spec_defaults(spec: WorkflowSpec) -> WorkflowSpec:
    changes: dict[str, Any] = {}
    if spec.workflow_template_ref is None:
        if not spec.timeout:
            changes["timeout"] = DEFAULT_TIMEOUT
        if not spec.priority:
            changes["priority"] = DEFAULT_PRIORITY
        if not spec.max_nested_depth:
            changes["max_nested_depth"] = DEFAULT_MAX_NESTED_DEPTH
    if spec.templates:
        templates = tuple(_template(t) for t in spec.templates)
        if any(new is not old for new, old in zip(templates, spec.templates, strict=True)):
            changes["templates"] = templates
    return evolve(spec, **changes) if changes else spec


def _cron_spec(spec: CronWorkflowSpec) -> CronWorkflowSpec:
    changes: dict[str, Any] = {}
    if not spec.timezone:
        changes["timezone"] = DEFAULT_TIMEZONE
    if not spec.concurrency_policy:
        changes["concurrency_policy"] = DEFAULT_CONCURRENCY_POLICY
    if spec.successful_jobs_history_limit is None:
        changes["successful_jobs_history_limit"] = DEFAULT_SUCCESSFUL_HISTORY
    if spec.failed_jobs_history_limit is None:
        changes["failed_jobs_history_limit"] = DEFAULT_FAILED_HISTORY
    if spec.workflow_spec is not None:
        changes["workflow_spec"] = spec_defaults(spec.workflow_spec)
    return evolve(spec, **changes)


def apply_defaults(doc: D) -> D:
    """The document with every §2.10 default filled in. Idempotent."""
    metadata = _metadata(doc.metadata)
    if isinstance(doc, CronWorkflow):
        spec = _cron_spec(doc.spec) if doc.spec is not None else None
        return evolve(doc, metadata=metadata, spec=spec)
    workflow_spec = spec_defaults(doc.spec) if doc.spec is not None else None
    return evolve(doc, metadata=metadata, spec=workflow_spec)
