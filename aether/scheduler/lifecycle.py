"""Whole-run and whole-scope endings: cancel (SPEC §11.3), the workflow deadline (§10.1),
container deadlines (§10.3), and aborting a run that hit a limit (§3.2)."""

from __future__ import annotations

from aether.events.catalog import TaskCancelRequested, WorkflowCompleted
from aether.events.phases import Phase
from aether.scheduler.context import Ctx
from aether.scheduler.flow import collect_dag_outputs, walk_up
from aether.scheduler.hooks import call_site, task_hook, task_terminal_hooks, workflow_hook
from aether.scheduler.nodes import complete

CANCEL_MESSAGE = "cancelled by user"
WORKFLOW_DEADLINE_MESSAGE = "workflow deadline exceeded"


def _cancel_open_attempt(ctx: Ctx, node_id: str) -> None:
    attempt = ctx.node(node_id).current_attempt
    if attempt is not None and attempt.code is None and attempt.assignment_id in ctx.state.open_attempts:
        ctx.emit(TaskCancelRequested(attempt.assignment_id, node_id, attempt.number))


def _end_all(ctx: Ctx, phase: Phase, message: str) -> list[str]:
    """Every non-terminal node, in creation order, to ``phase``; open attempts cancelled."""
    ended: list[str] = []
    for node_id in [node.node_id for node in ctx.state.nodes_in_order()]:
        if ctx.node(node_id).terminal:
            continue
        _cancel_open_attempt(ctx, node_id)
        complete(ctx, node_id, phase, message)
        ended.append(node_id)
    return ended


def _finish(ctx: Ctx, phase: Phase, message: str) -> None:
    ctx.emit(WorkflowCompleted(ctx.state.phase, phase, message, ()))


def cancel_run(ctx: Ctx, reason: str = CANCEL_MESSAGE) -> None:
    ended = _end_all(ctx, "Cancelled", reason)
    _finish(ctx, "Cancelled", reason)
    for node_id in ended:
        site = call_site(ctx.state, ctx.node(node_id))
        if site is not None and site.hooks is not None:
            task_hook(ctx, node_id, "onCancel")
            task_hook(ctx, node_id, "onExit", "Cancelled")
    workflow_hook(ctx, "onCancel")
    workflow_hook(ctx, "onExit", "Cancelled")


def workflow_deadline(ctx: Ctx) -> None:
    _end_all(ctx, "Timeout", WORKFLOW_DEADLINE_MESSAGE)
    _finish(ctx, "Timeout", WORKFLOW_DEADLINE_MESSAGE)
    workflow_hook(ctx, "onError")
    workflow_hook(ctx, "onExit", "Timeout")


def abort_run(ctx: Ctx, message: str) -> None:
    """L-NODES, L-EVENTS or an internal invariant: the run ends in Error."""
    _end_all(ctx, "Error", message)
    _finish(ctx, "Error", message)
    workflow_hook(ctx, "onError")
    workflow_hook(ctx, "onExit", "Error")


def container_deadline(ctx: Ctx, container_id: str) -> None:
    """SPEC §10.3: descendants to Timeout without conditions or retry, then the container."""
    container = ctx.node(container_id)
    message = f"{container.template_type} deadline exceeded"
    prefix = container_id + "/"
    descendants = [node.node_id for node in ctx.state.nodes_in_order()[container.seq + 1 :]]
    for node_id in descendants:
        node = ctx.node(node_id)
        if node.terminal or not node_id.startswith(prefix):
            continue
        _cancel_open_attempt(ctx, node_id)
        complete(ctx, node_id, "Timeout", message)
        if node.is_leaf and call_site(ctx.state, node) is not None:
            task_terminal_hooks(ctx, node_id, "Timeout")
    outputs = collect_dag_outputs(ctx, container_id)[0] if container.template_type == "dag" else None
    complete(ctx, container_id, "Timeout", message, outputs)
    walk_up(ctx, container_id)
