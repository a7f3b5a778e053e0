"""Semantic validation of decoded documents (SPEC §3.3). Each module holds one group of
rules; this one walks a document and hands each part to its rules."""

from __future__ import annotations

from collections.abc import Collection

from attrs import evolve

from aether.model.converter import dump_document
from aether.model.limits import DEFAULT_LIMITS, Limits
from aether.model.namespaces import known_namespaces
from aether.model.ordering import finalize
from aether.model.problems import Problem
from aether.model.refs import resolve_spec_ref, run_namespace
from aether.model.types import (
    KIND_CRON,
    KIND_TEMPLATE,
    KIND_WORKFLOW,
    CronWorkflow,
    Document,
    WorkflowTemplate,
)
from aether.model.validate.context import Context, ExecutorChecks, ExpressionCheck
from aether.model.validate.envelope import check_envelope
from aether.model.validate.spec import check_spec
from aether.model.validate_cron import validate_cron_fields

WORKFLOW_SPEC_PATH = "$.spec.workflowSpec"
WORKFLOW_SPEC_PREFIX = "spec.workflowSpec: "

__all__ = ["Context", "ExpressionCheck", "run_rules", "validate"]


def _cron_field_problems(document: CronWorkflow) -> list[Problem]:
    assert document.spec is not None
    return list(validate_cron_fields(document.spec, "$.spec"))


def _check_cron(ctx: Context, document: CronWorkflow, check_kind: bool) -> None:
    spec = document.spec
    kind = document.kind if check_kind else KIND_CRON
    check_envelope(ctx, document.api_version, kind, KIND_CRON, document.metadata, spec is not None)
    if spec is None:
        return
    ctx.problems.extend(_cron_field_problems(document))
    workflow_spec = spec.workflow_spec
    if workflow_spec is None:
        ctx.error("E-SPEC-REQUIRED", WORKFLOW_SPEC_PATH, "spec.workflowSpec is required")
        return
    inner = ctx.child(WORKFLOW_SPEC_PREFIX)
    if ctx.refs is not None and workflow_spec.workflow_template_ref is not None:
        # The stored cron keeps its reference (it is resolved at each tick, §13.4); the
        # merge here only lets submit judge what a tick would run.
        workflow_spec, problems = resolve_spec_ref(workflow_spec, run_namespace(document), ctx.refs, WORKFLOW_SPEC_PATH)
        for problem in problems:
            inner.error(problem.code, problem.path, problem.message)
    check_spec(inner, workflow_spec, WORKFLOW_SPEC_PATH)


def run_rules(document: Document, ctx: Context, *, check_kind: bool = True) -> None:
    """Apply every rule to ``document``, appending to ``ctx.problems``. ``check_kind``
    is false when the caller has judged ``kind`` already (the loader does)."""
    if isinstance(document, CronWorkflow):
        _check_cron(ctx, document, check_kind)
        return
    expected = KIND_TEMPLATE if isinstance(document, WorkflowTemplate) else KIND_WORKFLOW
    kind = document.kind if check_kind else expected
    spec = document.spec
    check_envelope(ctx, document.api_version, kind, expected, document.metadata, spec is not None)
    if spec is None:
        return
    if isinstance(document, WorkflowTemplate):
        if spec.workflow_template_ref is not None:
            message = "workflowTemplateRef is not allowed in a WorkflowTemplate"
            ctx.error("E-TEMPLATE-REF-NESTED", "$.spec.workflowTemplateRef", message)
            spec = evolve(spec, workflow_template_ref=None)
        check_spec(ctx, spec, "$.spec", entrypoint_required=False)
    else:
        check_spec(ctx, spec, "$.spec")


def validate(
    document: Document,
    *,
    limits: Limits = DEFAULT_LIMITS,
    strict: bool = False,
    executor_checks: ExecutorChecks | None = None,
    expression_check: ExpressionCheck,
    variable_namespaces: Collection[str] = (),
) -> list[Problem]:
    """The §3.3 problems of an already-decoded document, sorted as §3.1 says. Decoding
    problems (types, unknown keys) are :func:`aether.model.load_document`'s.

    ``expression_check`` compiles the expression fields; callers outside the model pass
    ``aether.expr.check_expression`` (see :class:`ExpressionCheck`); ``variable_namespaces``
    are those of the registered variable sources, which expressions may read besides the
    built-in ones."""
    ctx = Context(
        limits, executor_checks, expression_check=expression_check, namespaces=known_namespaces(variable_namespaces)
    )
    run_rules(document, ctx)
    raw = dump_document(document) if len(ctx.problems) > 1 else None
    return list(finalize(ctx.problems, raw=raw, strict=strict))
