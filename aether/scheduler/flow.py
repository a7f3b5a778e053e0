"""The walk of SPEC §7.1: settling new nodes, advancing containers, finalizing them and
the run.

``settle`` finishes everything a new node can do without a new input (depth-first).
``advance`` creates a container's eligible children, settles them, and finalizes the
container when it can; ``walk_up`` repeats that from a node's parent to the root.
Readiness comes from the counters the reducers keep (no scan of a scope).
"""

from __future__ import annotations

import orjson

from aether.events.catalog import (
    InputsBound,
    LoopExpanded,
    NodeCreated,
    RepeatConditionEvaluated,
    WorkflowCompleted,
)
from aether.events.phases import Phase
from aether.events.timers import TimerId
from aether.events.values import ResultParameter
from aether.expr import ExpressionError, evaluate, evaluate_condition, interpolate_typed, lookup
from aether.model.json_value import JSON
from aether.scheduler import leaf
from aether.scheduler.binding import bind
from aether.scheduler.context import Ctx
from aether.scheduler.env import build_env, dag_children_resolver, single_node_resolver
from aether.scheduler.hooks import workflow_terminal_hooks
from aether.scheduler.nodes import arm_timer, complete, duration_ms, node_timeout_text
from aether.scheduler.outputs import dag_outputs, loop_outputs
from aether.scheduler.scope import binding_scope, declarations_of

# SPEC §7.7: the run ends in its entry node's phase, mapped.
RUN_PHASE: dict[Phase, tuple[Phase, str]] = {
    "Succeeded": ("Succeeded", ""),
    "Skipped": ("Succeeded", ""),
    "Failed": ("Failed", "one or more tasks failed"),
    "Error": ("Error", "one or more tasks errored"),
    "Timeout": ("Error", "one or more tasks errored"),
    "Cancelled": ("Cancelled", ""),
}


class NodeLimitExceeded(Exception):
    """Creating more nodes would pass L-NODES; the run ends in Error."""


# --- creation and settling -------------------------------------------------------------------


def create_entry(ctx: Ctx) -> None:
    plan = ctx.state.plan
    key = plan.entry_key
    name = key[1]
    ctx.emit(NodeCreated(name, None, name, name, plan.kind(key), 0))
    settle(ctx, name)


def _ensure_capacity(ctx: Ctx, count: int) -> None:
    limit = ctx.state.limits.nodes_per_run
    if limit and ctx.state.node_count + count > limit:
        raise NodeLimitExceeded()


def settle(ctx: Ctx, node_id: str) -> None:
    """Settle a node just created in phase ``Created``."""
    node = ctx.node(node_id)
    if node.template_type == "task":
        leaf.dispatch(ctx, node_id, "initial")
        return
    arguments, env = binding_scope(ctx.state, node)
    params, warnings = bind(declarations_of(ctx.state, node), arguments, env, ctx.state.limits)
    if params or warnings:
        ctx.emit(InputsBound(node_id, params, (), warnings))
    due = duration_ms(node_timeout_text(ctx, node_id))
    if due is not None:
        arm_timer(ctx, TimerId.container(node_id), ctx.now_ms + due)
    if node.template_type == "loop" and not _expand_loop(ctx, node_id):
        return
    advance(ctx, node_id)


def advance(ctx: Ctx, node_id: str) -> bool:
    """Create and settle eligible children, then finalize if possible. True if finalized."""
    node = ctx.node(node_id)
    if node.terminal:
        return False
    if node.template_type == "dag":
        return _advance_dag(ctx, node_id)
    if node.template_type == "loop":
        return _advance_loop(ctx, node_id)
    return False


def walk_up(ctx: Ctx, node_id: str) -> None:
    """After ``node_id`` became terminal: advance each ancestor until one cannot finish;
    finish the run when the entry node has."""
    node = ctx.node(node_id)
    while node.parent_id is not None:
        parent_id = node.parent_id
        if ctx.node(parent_id).terminal or not advance(ctx, parent_id):
            return
        node = ctx.node(parent_id)
    if node.terminal:
        finish_run(ctx)


def finish_run(ctx: Ctx) -> None:
    state = ctx.state
    entry_id = state.entry_id()
    if state.terminal or entry_id is None:
        return
    entry = state.node(entry_id)
    phase, message = RUN_PHASE[entry.phase]
    if entry.phase == "Cancelled":
        message = entry.message
    ctx.emit(WorkflowCompleted(state.phase, phase, message, entry.outputs or ()))
    workflow_terminal_hooks(ctx, phase)


# --- DAGs ----------------------------------------------------------------------------------


def _advance_dag(ctx: Ctx, node_id: str) -> bool:
    template_key = ctx.node(node_id).template_key
    assert template_key is not None
    plan = ctx.state.plan.dag(template_key)
    while True:
        node = ctx.node(node_id)
        assert node.dag is not None
        ready = sorted(node.dag.ready.keys())
        if not ready:
            break
        _ensure_capacity(ctx, len(ready))
        skipped: list[tuple[int, str]] = []
        created: list[int] = []
        notes: dict[int, tuple[str, ...]] = {}
        env = build_env(ctx.state, inputs=node.inputs, nodes=dag_children_resolver(ctx.state, node))
        for index in ready:
            when = plan.tasks[index].when
            if not when or not when.strip():
                created.append(index)
                continue
            try:
                result = evaluate_condition(when, env, ctx.state.limits)
            except ExpressionError as exc:
                skipped.append((index, f'when condition "{when}" failed: {exc}'))
                continue
            if result.warnings:
                notes[index] = result.warnings
            if result.value:
                created.append(index)
            else:
                skipped.append((index, f'when condition "{when}" evaluated to false'))
        for index, message in skipped:
            _create_dag_child(ctx, node_id, index, "Skipped", message, notes.get(index, ()))
        new_ids = [_create_dag_child(ctx, node_id, index, "Created", "", notes.get(index, ())) for index in created]
        for child_id in new_ids:
            if ctx.node(child_id).phase == "Created":
                settle(ctx, child_id)
    dag = ctx.node(node_id).dag
    assert dag is not None
    if dag.unfinished > 0:
        return False
    _finalize_dag(ctx, node_id)
    return True


def _create_dag_child(
    ctx: Ctx, parent_id: str, index: int, phase: Phase, message: str, warnings: tuple[str, ...] = ()
) -> str:
    parent = ctx.node(parent_id)
    assert parent.template_key is not None
    plan = ctx.state.plan.dag(parent.template_key)
    task = plan.tasks[index]
    target = plan.targets[index]
    name = task.name or ""
    node_id = f"{parent.node_id}/{name}"
    ctx.emit(
        NodeCreated(
            node_id,
            parent.node_id,
            name,
            target.template_name,
            target.template_type,
            parent.depth + 1,
            phase,
            message,
            None,
            index,
            warnings,
        )
    )
    return node_id


def _aggregate(cancelled: int, errored: int, failed: int) -> tuple[Phase, str]:
    if cancelled:
        return "Cancelled", "one or more tasks were cancelled"
    if errored:
        return "Error", "one or more tasks errored"
    if failed:
        return "Failed", "one or more tasks failed"
    return "Succeeded", ""


def _finalize_dag(ctx: Ctx, node_id: str) -> None:
    node = ctx.node(node_id)
    assert node.dag is not None and node.template_key is not None
    dag = node.dag
    template = ctx.state.plan.dag_template(node.template_key)
    phase, message = _aggregate(dag.cancelled, dag.errored, dag.failed)
    if not dag.children:
        message = "no runnable tasks"
    outputs, warnings = collect_dag_outputs(ctx, node_id)
    conditions = template.phase_conditions
    if phase != "Cancelled" and conditions is not None and not conditions.is_empty:
        context: dict[str, JSON] = {"phase": phase, "msg": message}
        for param in outputs or ():
            if param.has_value:
                context["outputs.parameters." + param.name] = param.value
        env = build_env(ctx.state, inputs=node.inputs, nodes=dag_children_resolver(ctx.state, node), context=context)
        phase, condition_warnings = leaf.evaluate_phase_conditions(ctx, conditions, phase, env)
        warnings += condition_warnings
    complete(ctx, node_id, phase, message, outputs, warnings)


def collect_dag_outputs(ctx: Ctx, node_id: str) -> tuple[tuple[ResultParameter, ...] | None, tuple[str, ...]]:
    node = ctx.node(node_id)
    assert node.template_key is not None
    template = ctx.state.plan.dag_template(node.template_key)
    declaration = template.outputs.parameters if template.outputs else ()
    if not declaration:
        return None, ()
    env = build_env(ctx.state, inputs=node.inputs, nodes=dag_children_resolver(ctx.state, node))
    return dag_outputs(declaration, env, ctx.state.limits)


# --- loops ---------------------------------------------------------------------------------


def _expand_loop(ctx: Ctx, node_id: str) -> bool:
    """SPEC §8.1. Records the expansion; False if the loop ended (error or no items)."""
    node = ctx.node(node_id)
    assert node.template_key is not None
    loop = ctx.state.plan.loop_template(node.template_key)
    limits = ctx.state.limits
    if loop.repeat_condition:
        ctx.emit(LoopExpanded(node_id, 0, (), None, "repeat"))
        return True
    warnings: tuple[str, ...] = ()
    if loop.items:
        items = list(loop.items)
        mode = "items"
    else:
        mode = "itemsFrom"
        try:
            items, warnings = _items_from(ctx, node_id, loop.items_from or "")
        except _ExpansionError as exc:
            complete(ctx, node_id, "Error", f'expand loop "{node.template_name}": {exc}')
            return False
    truncated_from = None
    if loop.max_iterations and loop.max_iterations > 0 and len(items) > loop.max_iterations:
        truncated_from = len(items)
        items = items[: loop.max_iterations]
    if len(items) > limits.loop_iterations:
        complete(
            ctx,
            node_id,
            "Error",
            f'expand loop "{node.template_name}": {len(items)} iterations; the limit is {limits.loop_iterations}',
        )
        return False
    ctx.emit(LoopExpanded(node_id, len(items), tuple(items), truncated_from, mode, warnings))
    if not items:
        complete(ctx, node_id, "Succeeded", "loop had no iterations", loop_outputs(loop, []))
        return False
    return True


class _ExpansionError(Exception):
    pass


def _items_from(ctx: Ctx, node_id: str, source: str) -> tuple[list[JSON], tuple[str, ...]]:
    node = ctx.node(node_id)
    nodes = single_node_resolver(ctx.state, "", None)
    if node.parent_id is not None:
        parent = ctx.node(node.parent_id)
        if parent.template_type == "dag":
            nodes = dag_children_resolver(ctx.state, parent)
    env = build_env(ctx.state, inputs=node.inputs, nodes=nodes)
    text = source.strip()
    warnings: tuple[str, ...] = ()
    value: JSON
    if _single_placeholder(text) and lookup(env, text[2:-2].strip())[0]:
        value = interpolate_typed(text, env)
    else:
        try:
            result = evaluate(source, env, ctx.state.limits)
        except ExpressionError as exc:
            raise _ExpansionError(str(exc)) from exc
        value, warnings = result.value, result.warnings
    if value is None:
        return [], warnings
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise _ExpansionError(f"itemsFrom must yield a JSON array: {exc}") from exc
    if not isinstance(value, list):
        raise _ExpansionError(f"itemsFrom must yield an array, got {type(value).__name__}")
    return value, warnings


def _single_placeholder(text: str) -> bool:
    return text.startswith("{{") and text.endswith("}}") and "{{" not in text[2:-2] and "}}" not in text[2:-2]


def _advance_loop(ctx: Ctx, node_id: str) -> bool:
    node = ctx.node(node_id)
    assert node.loop is not None and node.template_key is not None
    loop_template = ctx.state.plan.loop_template(node.template_key)
    if node.loop.mode == "repeat":
        if not _advance_repeat(ctx, node_id, loop_template.max_iterations or 0):
            return True
    else:
        _refill(ctx, node_id, loop_template.concurrency or 0)
    node = ctx.node(node_id)
    progress = node.loop
    assert progress is not None
    if node.terminal:
        return True
    done = progress.stopped if progress.mode == "repeat" else progress.created == progress.total
    if not done or progress.unfinished > 0:
        return False
    _finalize_loop(ctx, node_id)
    return True


def _refill(ctx: Ctx, node_id: str, concurrency: int) -> None:
    while True:
        progress = ctx.node(node_id).loop
        assert progress is not None and progress.total is not None
        remaining = progress.total - progress.created
        if remaining <= 0:
            return
        room = remaining if concurrency <= 0 else min(remaining, concurrency - progress.unfinished)
        if room <= 0:
            return
        _ensure_capacity(ctx, room)
        start = progress.created
        new_ids = [_create_iteration(ctx, node_id, i) for i in range(start, start + room)]
        for child_id in new_ids:
            settle(ctx, child_id)


def _advance_repeat(ctx: Ctx, node_id: str, max_iterations: int) -> bool:
    """Serial do-while (§8.2). False if the loop ended in Error."""
    limit = min(max_iterations, ctx.state.limits.loop_iterations)
    while True:
        node = ctx.node(node_id)
        progress = node.loop
        assert progress is not None and node.template_key is not None
        if progress.stopped:
            return True
        if progress.created == 0:
            _ensure_capacity(ctx, 1)
            settle(ctx, _create_iteration(ctx, node_id, 0))
            continue
        if progress.unfinished > 0:
            return True
        last_index = progress.created - 1
        last_id = progress.iterations[last_index]
        if progress.created >= limit:
            ctx.emit(RepeatConditionEvaluated(node_id, last_index, False, ("maxIterations reached",)))
            return True
        loop_template = ctx.state.plan.loop_template(node.template_key)
        body = loop_template.body or ""
        env = build_env(
            ctx.state,
            inputs=node.inputs,
            nodes=single_node_resolver(ctx.state, body, last_id),
            context={"loop_iter.index": last_index},
        )
        try:
            result = evaluate_condition(loop_template.repeat_condition or "", env, ctx.state.limits)
        except ExpressionError as exc:
            complete(ctx, node_id, "Error", f"repeatCondition: {exc}")
            return False
        ctx.emit(RepeatConditionEvaluated(node_id, last_index, bool(result.value), result.warnings))
        if not result.value:
            return True
        _ensure_capacity(ctx, 1)
        settle(ctx, _create_iteration(ctx, node_id, progress.created))


def _create_iteration(ctx: Ctx, loop_id: str, index: int) -> str:
    loop_node = ctx.node(loop_id)
    assert loop_node.template_key is not None
    plan = ctx.state.plan
    body = plan.loop_template(loop_node.template_key).body or ""
    key = plan.resolve_name(loop_node.template_key[0], body)
    node_id = f"{loop_node.node_id}/loop[{index}]/{body}"
    ctx.emit(
        NodeCreated(
            node_id,
            loop_node.node_id,
            body,
            plan.display_name(key),
            plan.kind(key),
            loop_node.depth + 1,
            "Created",
            "",
            index,
        )
    )
    return node_id


def _finalize_loop(ctx: Ctx, node_id: str) -> None:
    node = ctx.node(node_id)
    assert node.loop is not None and node.template_key is not None
    progress = node.loop
    template = ctx.state.plan.loop_template(node.template_key)
    phase, message = _aggregate(progress.cancelled, progress.errored, progress.failed)
    iterations = [ctx.node(progress.iterations[i]) for i in range(progress.created)]
    outputs = loop_outputs(template, iterations)
    warnings: tuple[str, ...] = ()
    conditions = template.phase_conditions
    if phase != "Cancelled" and conditions is not None and not conditions.is_empty:
        context: dict[str, JSON] = {
            "phase": phase,
            "msg": message,
            "loop.count": progress.created,
            "loop.succeeded": progress.succeeded,
            "loop.failed": progress.failed,
            "loop.errored": progress.errored,
        }
        for param in outputs:
            context["outputs.parameters." + param.name] = param.value
        last = iterations[-1] if iterations else None
        env = build_env(
            ctx.state,
            inputs=node.inputs,
            nodes=single_node_resolver(ctx.state, template.body or "", last.node_id if last else None),
            context=context,
        )
        phase, warnings = leaf.evaluate_phase_conditions(ctx, conditions, phase, env)
    complete(ctx, node_id, phase, message, outputs, warnings)


__all__ = ["advance", "create_entry", "finish_run", "settle", "walk_up"]
