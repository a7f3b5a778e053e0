"""Loop templates (SPEC §2.5.4, §3.3.6). Messages are prefixed ``template "<t>": ``."""

from __future__ import annotations

from aether.model.types import LoopTemplate
from aether.model.validate.context import Context
from aether.model.validate.expressions import check_expression
from aether.model.validate.fields import check_duration, check_phase_conditions
from aether.model.validate.params import Role, check_parameters

AGGREGATE_STRATEGIES = ("last", "first", "list", "")


def _check_body(ctx: Context, loop: LoopTemplate, path: str, prefix: str) -> None:
    if not loop.body:
        ctx.error("E-LOOP-BODY-REQUIRED", f"{path}.body", prefix + "loop.body is required")
    elif ctx.unknown_template(loop.body):
        message = f'loop.body references unknown template "{loop.body}"'
        ctx.error("E-LOOP-BODY-UNKNOWN", f"{path}.body", prefix + message)


def _check_mode(ctx: Context, loop: LoopTemplate, path: str, prefix: str) -> None:
    # An empty items array counts as not set (§2.5.4).
    modes = [bool(loop.items), bool(loop.items_from), bool(loop.repeat_condition)]
    if not any(modes):
        message = "loop must specify one of repeatCondition/items/itemsFrom"
        ctx.error("E-LOOP-MODE-NONE", path, prefix + message)
    elif sum(modes) > 1:
        message = "loop must specify only one of repeatCondition/items/itemsFrom"
        ctx.error("E-LOOP-MODE-MULTIPLE", path, prefix + message)
    if loop.repeat_condition:
        if loop.max_iterations is None or loop.max_iterations <= 0:
            message = "loop.maxIterations is required when using repeatCondition"
            ctx.error("E-LOOP-MAXITER-REQUIRED", f"{path}.maxIterations", prefix + message)
        if loop.concurrency is not None and loop.concurrency > 0:
            message = "loop.concurrency is not allowed with repeatCondition (serial only)"
            ctx.error("E-LOOP-CONCURRENCY-REPEAT", f"{path}.concurrency", prefix + message)


def _check_limits(ctx: Context, loop: LoopTemplate, path: str, prefix: str) -> None:
    items_limit = ctx.limits.loop_items
    if loop.items is not None and len(loop.items) > items_limit:
        message = f"loop.items has {len(loop.items)} elements; the limit is {items_limit}"
        ctx.error("E-LOOP-ITEMS-LIMIT", f"{path}.items", prefix + message)
    iterations_limit = ctx.limits.loop_iterations
    if loop.max_iterations is not None and loop.max_iterations > iterations_limit:
        message = f"loop.maxIterations {loop.max_iterations} treated as {iterations_limit}"
        ctx.warn("W-LOOP-MAXITER-CLAMPED", f"{path}.maxIterations", prefix + message)


def check_loop_template(ctx: Context, loop: LoopTemplate, path: str) -> None:
    name = loop.name or ""
    prefix = f'template "{name}": '
    _check_body(ctx, loop, path, prefix)
    _check_mode(ctx, loop, path, prefix)
    _check_limits(ctx, loop, path, prefix)
    strategy = loop.aggregate.strategy if loop.aggregate is not None else None
    if strategy is not None and strategy not in AGGREGATE_STRATEGIES:
        message = f'loop.aggregate.strategy "{strategy}" is not supported; valid values: last, first, list'
        ctx.error("E-LOOP-AGGREGATE-STRATEGY", f"{path}.aggregate.strategy", prefix + message)
    check_parameters(ctx, loop.inputs, f"{path}.inputs", Role.TEMPLATE_INPUTS, name)
    check_parameters(ctx, loop.arguments, f"{path}.arguments", Role.LOOP_ARGUMENTS, name)
    check_parameters(ctx, loop.outputs, f"{path}.outputs", Role.OUTPUTS, name)
    check_expression(ctx, loop.items_from, f"{path}.itemsFrom")
    check_expression(ctx, loop.repeat_condition, f"{path}.repeatCondition")
    check_phase_conditions(ctx, loop.phase_conditions, f"{path}.phaseConditions")
    check_duration(ctx, loop.timeout, f"{path}.timeout")
