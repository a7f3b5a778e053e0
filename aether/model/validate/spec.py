"""WorkflowSpec rules (SPEC §2.4, §3.3.3) and the dispatch to each template's rules."""

from __future__ import annotations

from aether.model.index import index_templates
from aether.model.types import WorkflowSpec
from aether.model.validate.context import Context
from aether.model.validate.dag import check_dag_template
from aether.model.validate.fields import check_duration, schema_range
from aether.model.validate.hooks import HookScope, check_hooks
from aether.model.validate.loop import check_loop_template
from aether.model.validate.names import check_name
from aether.model.validate.nesting import check_nesting
from aether.model.validate.params import Role, check_parameters
from aether.model.validate.reached_refs import check_reached_references
from aether.model.validate.task import check_task_template

PRIORITY_RANGE = (0, 1000)


def _check_templates(ctx: Context, spec: WorkflowSpec, path: str) -> None:
    templates = spec.templates or ()
    limit = ctx.limits.templates
    if len(templates) > limit:
        ctx.error("E-TEMPLATES-LIMIT", f"{path}.templates", f"{len(templates)} templates; the limit is {limit}")
    seen: set[str] = set()
    for i, template in enumerate(templates):
        template_path = f"{path}.templates[{i}]"
        kind = template.kind
        if kind is None:
            names = [getattr(template, v).name for v in template.variants if getattr(template, v).name]
            label = names[0] if names else f"templates[{i}]"
            message = f'template "{label}" must have exactly one of dag/task/loop'
            ctx.error("E-TEMPLATE-VARIANT", template_path, message)
            continue
        body_path = f"{template_path}.{kind}"
        name = template.name
        check_name(ctx, name, f"{body_path}.name", "template name", f"template[{i}].name is required")
        if name:
            if name in seen:
                message = f'duplicate template name "{name}"; the first one is used'
                ctx.warn("W-TEMPLATE-DUPLICATE", f"{body_path}.name", message)
            seen.add(name)
        if template.dag is not None:
            check_dag_template(ctx, template.dag, body_path)
        elif template.task is not None:
            check_task_template(ctx, template.task, body_path)
        elif template.loop is not None:
            check_loop_template(ctx, template.loop, body_path)


def _check_settings(ctx: Context, spec: WorkflowSpec, path: str) -> None:
    check_duration(ctx, spec.timeout, f"{path}.timeout")
    low, high = PRIORITY_RANGE
    if spec.priority is not None and not low <= spec.priority <= high:
        schema_range(ctx, f"{path}.priority", "priority", spec.priority, f"must be between {low} and {high}")
    depth = spec.max_nested_depth
    ceiling = ctx.limits.max_nested_depth_ceiling
    if depth is not None and (depth < 0 or depth > ceiling):
        ctx.warn("W-NESTING-CLAMPED", f"{path}.maxNestedDepth", f"maxNestedDepth {depth} treated as {ceiling}")


def check_spec(ctx: Context, spec: WorkflowSpec, path: str, *, entrypoint_required: bool = True) -> None:
    """Every WorkflowSpec rule. ``entrypoint_required`` is false for a WorkflowTemplate
    (§13.1). A spec whose ``workflowTemplateRef`` could not be merged is judged without
    the required-field rules: the missing parts are expected to come from the template."""
    pending_ref = spec.workflow_template_ref is not None
    ctx.templates = index_templates(spec.templates)
    ctx.open_names = pending_ref
    if not spec.entrypoint and entrypoint_required and not pending_ref:
        ctx.error("E-ENTRYPOINT-REQUIRED", f"{path}.entrypoint", "spec.entrypoint is required")
    if not spec.templates and not pending_ref:
        ctx.error("E-TEMPLATES-REQUIRED", f"{path}.templates", "spec.templates is required")
    if spec.entrypoint and ctx.unknown_template(spec.entrypoint):
        message = f'entrypoint template "{spec.entrypoint}" not found in templates'
        ctx.error("E-ENTRYPOINT-UNKNOWN", f"{path}.entrypoint", message)
    _check_settings(ctx, spec, path)
    check_parameters(ctx, spec.arguments, f"{path}.arguments", Role.WORKFLOW_ARGUMENTS)
    check_hooks(ctx, spec.hooks, f"{path}.hooks", "spec.hooks", HookScope.WORKFLOW)
    _check_templates(ctx, spec, path)
    check_reached_references(ctx, spec, path)
    check_nesting(ctx, spec, path)
