"""Lifecycle hooks (SPEC §11.5). Hooks only notify: each firing is a ``HookFired`` event
and a ``Notify`` effect, idempotent by ``<runId>/<nodeId or "-">/<hookType>/<n>``."""

from __future__ import annotations

from aether.events.catalog import HookFired
from aether.events.phases import Phase
from aether.model.json_value import JSON
from aether.model.types import DagTask, Hooks
from aether.reducers.state import NodeState, RunState
from aether.scheduler.context import Ctx

PHASE_HOOK: dict[Phase, str] = {
    "Succeeded": "onSuccess",
    "Failed": "onFailure",
    "Error": "onError",
    "Timeout": "onError",
    "Cancelled": "onCancel",
}


def call_site(state: RunState, node: NodeState) -> DagTask | None:
    """The DAG task a node was created for; None for the entry node and iterations."""
    if node.parent_id is None or node.task_index is None:
        return None
    parent = state.node(node.parent_id)
    if parent.template_type != "dag" or parent.template_key is None:
        return None
    return state.plan.dag(parent.template_key).tasks[node.task_index]


def _fire(ctx: Ctx, hooks: Hooks | None, hook_type: str, node_id: str | None, phase: Phase | None) -> None:
    if hooks is None:
        return
    ref = hooks.get(hook_type)
    if ref is None or not ref.template:
        return
    state = ctx.state
    node = state.node(node_id) if node_id is not None else None
    node_key = node.node_id if node is not None else "-"
    n = state.hook_counts.get((node_key, hook_type), 0) + 1
    key = f"{state.run_id}/{node_key}/{hook_type}/{n}"
    payload: dict[str, JSON] = {
        "hookType": hook_type,
        "scope": "task" if node is not None else "workflow",
        "runId": state.run_id,
        "workflowName": state.name,
        "namespace": state.namespace,
        "template": ref.template,
        "at": ctx.now,
    }
    if node is not None:
        payload["nodeId"] = node.node_id
        payload["taskName"] = node.task_name
        if node.attempt:
            payload["attempt"] = node.attempt
        context: dict[str, JSON] = {
            "workflowRunID": state.run_id,
            "taskRunID": node.node_id,
            "taskName": node.task_name,
        }
    else:
        context = {"workflowRunID": state.run_id, "workflowName": state.name}
    if phase is not None:
        payload["phase"] = phase
        context["phase"] = phase
    payload["context"] = context
    ctx.emit(HookFired(hook_type, payload["scope"], node.node_id if node else None, ref.template, key, payload))


def task_hook(ctx: Ctx, node_id: str, hook_type: str, phase: Phase | None = None) -> None:
    site = call_site(ctx.state, ctx.node(node_id))
    if site is not None:
        _fire(ctx, site.hooks, hook_type, node_id, phase)


def task_terminal_hooks(ctx: Ctx, node_id: str, phase: Phase) -> None:
    """The phase hook, then ``onExit``, for a node that just ended."""
    site = call_site(ctx.state, ctx.node(node_id))
    if site is None or site.hooks is None:
        return
    hook = PHASE_HOOK.get(phase)
    if hook is not None:
        _fire(ctx, site.hooks, hook, node_id, None)
    _fire(ctx, site.hooks, "onExit", node_id, phase)


def workflow_hook(ctx: Ctx, hook_type: str, phase: Phase | None = None) -> None:
    _fire(ctx, ctx.state.plan.spec.hooks, hook_type, None, phase)


def workflow_terminal_hooks(ctx: Ctx, phase: Phase) -> None:
    hook = PHASE_HOOK.get(phase)
    if hook is not None:
        workflow_hook(ctx, hook)
    workflow_hook(ctx, "onExit", phase)
