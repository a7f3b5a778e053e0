"""Small steps every part of the decider shares: phase chains up the tree, completing a
node, arming timers, and finding what a node runs.

Steps take node ids and read nodes through the context, never a node record from an
earlier step: every ``emit`` folds a new state, and a record read before it is stale."""

from __future__ import annotations

from aether.events.catalog import NodeCompleted, PhaseChanged, TimerArmed
from aether.events.phases import Phase
from aether.events.timers import TimerId
from aether.events.times import format_ms
from aether.events.values import ResultParameter
from aether.model.durations import parse_duration_seconds
from aether.model.types import DagTask, TaskTemplate
from aether.scheduler.context import Ctx
from aether.scheduler.hooks import call_site, workflow_hook


def _promote_chain(ctx: Ctx, node_id: str, from_phase: Phase, to_phase: Phase) -> bool:
    """Move every ancestor of the node still in ``from_phase``, nearest first, and then the
    run, to ``to_phase``. Returns whether the run moved."""
    parent_id = ctx.node(node_id).parent_id
    while parent_id is not None:
        parent = ctx.node(parent_id)
        if parent.phase != from_phase:
            break
        ctx.emit(PhaseChanged(parent.node_id, from_phase, to_phase))
        parent_id = parent.parent_id
    if ctx.state.phase != from_phase:
        return False
    ctx.emit(PhaseChanged(None, from_phase, to_phase))
    return True


def mark_dispatched_chain(ctx: Ctx, node_id: str) -> None:
    """A leaf was dispatched: every ``Created`` ancestor and the run become ``Ready``."""
    _promote_chain(ctx, node_id, "Created", "Ready")


def mark_started_chain(ctx: Ctx, node_id: str) -> None:
    """A leaf started: every ``Ready`` ancestor and the run become ``Running``."""
    if _promote_chain(ctx, node_id, "Ready", "Running"):
        workflow_hook(ctx, "onStart")


def complete(
    ctx: Ctx,
    node_id: str,
    phase: Phase,
    message: str = "",
    outputs: tuple[ResultParameter, ...] | None = None,
    warnings: tuple[str, ...] = (),
) -> None:
    ctx.emit(NodeCompleted(node_id, ctx.node(node_id).phase, phase, message, outputs, warnings))


def arm_timer(ctx: Ctx, timer: TimerId, due_ms: int) -> None:
    timer_id = timer.format()
    ctx.emit(TimerArmed(timer_id, due_ms, format_ms(due_ms), timer.purpose, timer.node_id))


def duration_ms(text: str | None) -> int | None:
    seconds = parse_duration_seconds(text)
    return None if seconds is None else round(seconds * 1000)


def leaf_definition(ctx: Ctx, node_id: str) -> tuple[TaskTemplate | DagTask, DagTask | None]:
    """(definition, call site): the task template a leaf runs, or the inline DAG task."""
    node = ctx.node(node_id)
    site = call_site(ctx.state, node)
    if node.template_key is None:
        assert site is not None
        return site, site
    return ctx.state.plan.task_template(node.template_key), site


def node_timeout_text(ctx: Ctx, node_id: str) -> str | None:
    """Call-site ``timeout`` if non-empty, else the definition's (SPEC §10.2, §10.3)."""
    node = ctx.node(node_id)
    site = call_site(ctx.state, node)
    if site is not None and site.timeout:
        return site.timeout
    if node.template_key is None:
        return None
    body = ctx.state.plan.template(node.template_key).body
    return getattr(body, "timeout", None) if body is not None else None
