"""Leaves: dispatch (SPEC §7.4), starts and results (§7.5), phase conditions (§6.5.1),
retries (§9) and task deadlines (§10.2).

Functions that can end a leaf return True when it became terminal, so the caller
continues the walk up the tree (§7.1).
"""

from __future__ import annotations

from typing import Any

from aether.events.assignment import TaskAssignment
from aether.events.catalog import (
    InputsBound,
    PhaseChanged,
    RetryScheduled,
    TaskCancelRequested,
    TaskDispatched,
    TaskResultRecorded,
)
from aether.events.phases import Phase
from aether.events.timers import TimerId
from aether.events.times import format_ms
from aether.events.values import BoundParameter, ResultParameter
from aether.expr import ExpressionError, evaluate_condition
from aether.model.json_value import JSON
from aether.model.types import DagTask, PhaseConditions, TaskTemplate
from aether.reducers.state import NodeState
from aether.scheduler.binding import bind, merge_payload
from aether.scheduler.context import Ctx
from aether.scheduler.env import build_env, dag_children_resolver, result_context
from aether.scheduler.hooks import call_site, task_hook, task_terminal_hooks
from aether.scheduler.nodes import (
    arm_timer,
    complete,
    duration_ms,
    leaf_definition,
    mark_dispatched_chain,
    mark_started_chain,
    node_timeout_text,
)
from aether.scheduler.outbox import REUSE
from aether.scheduler.outputs import leaf_outputs, merge_parameters
from aether.scheduler.result_limits import result_problem
from aether.scheduler.scope import binding_scope, declarations_of

BASE_PHASE: dict[int, Phase] = {0: "Succeeded", 1: "Suspended", 2: "Failed", 3: "Error", 4: "Timeout"}
DEADLINE_MESSAGE = "task deadline exceeded"
LOST = "lost"  # the dispatch reason of the attempt that replaces a lost one (SPEC §6.3)


def base_phase(code: int) -> Phase:
    return BASE_PHASE.get(code, "Error")


# --- dispatch ------------------------------------------------------------------------------


def dispatch(ctx: Ctx, node_id: str, reason: str) -> bool:
    """Bind and dispatch the next attempt of a leaf (creation or retry). True if the leaf
    ended instead (no executor)."""
    definition, _site = leaf_definition(ctx, node_id)
    executor = definition.executor
    if executor is None or not executor.type:
        complete(ctx, node_id, "Error", "task definition has no executor")
        task_terminal_hooks(ctx, node_id, "Error")
        return True
    node = ctx.node(node_id)
    arguments, env = binding_scope(ctx.state, node)
    params, warnings = bind(declarations_of(ctx.state, node), arguments, env, ctx.state.limits)
    artifacts = _declared_artifacts(definition)
    if params or warnings or artifacts:
        ctx.emit(InputsBound(node_id, params, artifacts, warnings))
    if reason == "initial":
        recorded = reusable_result(ctx, node_id, params)
        if recorded is not None:
            _reuse(ctx, node_id, params, recorded)
            return True
    retry_count = ctx.node(node_id).retry_count  # RetryScheduled already counted a retry
    timeout = node_timeout_text(ctx, node_id)
    due = duration_ms(timeout)
    deadline_ms = ctx.now_ms + due if due is not None else None
    _send(ctx, node_id, reason, params, artifacts, retry_count, timeout, deadline_ms, None)
    if due is not None:
        arm_timer(ctx, TimerId.task(node_id, retry_count), ctx.now_ms + due)
    return False


def _declared_artifacts(definition: TaskTemplate | DagTask) -> tuple[dict[str, JSON], ...]:
    from aether.model.converter import unstructure as dump_value  # knows the wire names

    inputs = definition.inputs
    if inputs is None or not inputs.artifacts:
        return ()
    return tuple(dump_value(artifact) for artifact in inputs.artifacts)


def _send(
    ctx: Ctx,
    node_id: str,
    reason: str,
    params: tuple[BoundParameter, ...],
    artifacts: tuple[dict[str, JSON], ...],
    retry_count: int,
    timeout: str | None,
    deadline_ms: int | None,
    resume_payload: dict[str, JSON] | None,
) -> None:
    from aether.model.converter import unstructure as dump_value

    definition, _site = leaf_definition(ctx, node_id)
    executor = definition.executor
    assert executor is not None and executor.type
    state = ctx.state
    node = state.node(node_id)
    attempt = node.attempt + 1
    assignment = TaskAssignment(
        id=TaskAssignment.attempt_id(state.run_id, node.node_id, attempt),
        run_id=state.run_id,
        node_id=node.node_id,
        attempt=attempt,
        retry_count=retry_count,
        workflow_name=state.name,
        namespace=state.namespace,
        task_name=node.task_name,
        template_name=node.template_name,
        executor_type=executor.type,
        executor_config=executor.config,
        inputs=params,
        artifacts=artifacts,
        timeout=timeout,
        deadline=format_ms(deadline_ms) if deadline_ms is not None else None,
        resources=dump_value(definition.resources) if definition.resources is not None else None,
        priority=state.plan.spec.priority or 500,
        resume_payload=resume_payload,
    )
    ctx.emit(TaskDispatched(node_id, attempt, reason, assignment, deadline_ms))
    mark_dispatched_chain(ctx, node_id)


def reusable_result(ctx: Ctx, node_id: str, params: tuple[BoundParameter, ...]) -> dict[str, JSON] | None:
    """The result a forked run may take over from its origin (``aether retry``/``reset``):
    the node succeeded there with exactly these inputs, and nothing it depends on (its own
    dependencies, and those of every DAG task above it) ran anew in this run."""
    origin = ctx.state.origin
    if not origin:
        return None
    recorded: dict[str, JSON] | None = origin.get("reuse", {}).get(node_id)
    if recorded is None or recorded.get("inputs", []) != [p.to_wire() for p in params]:
        return None
    state = ctx.state
    current: NodeState | None = state.node(node_id)
    while current is not None and current.parent_id is not None:
        site = call_site(state, current)
        if site is not None:
            parent = state.node(current.parent_id)
            children = dag_children_resolver(state, parent)
            for dependency in site.dependencies or ():
                dep = children(dependency)
                if dep is not None and dep.fresh:
                    return None
        current = state.node(current.parent_id)
    return recorded


def _reuse(ctx: Ctx, node_id: str, params: tuple[BoundParameter, ...], recorded: dict[str, JSON]) -> None:
    """Take over an origin run's successful result through the normal phases, without
    dispatching anything; the attempt's reason ``reuse`` says where it came from."""
    from aether.model.converter import unstructure as dump_value

    definition, _site = leaf_definition(ctx, node_id)
    executor = definition.executor
    assert executor is not None
    state = ctx.state
    node = state.node(node_id)
    assignment = TaskAssignment(
        id=TaskAssignment.attempt_id(state.run_id, node.node_id, 1),
        run_id=state.run_id,
        node_id=node.node_id,
        attempt=1,
        retry_count=0,
        workflow_name=state.name,
        namespace=state.namespace,
        task_name=node.task_name,
        template_name=node.template_name,
        executor_type=executor.type or "",
        executor_config=executor.config,
        inputs=params,
        resources=dump_value(definition.resources) if definition.resources is not None else None,
        priority=state.plan.spec.priority or 500,
    )
    ctx.emit(TaskDispatched(node_id, 1, REUSE, assignment, None))
    mark_dispatched_chain(ctx, node_id)
    accept_start(ctx, node_id)
    outputs = tuple(
        ResultParameter(p["name"], p.get("value"), "value" in p, p.get("type")) for p in recorded.get("outputs", [])
    )
    message = str(recorded.get("message", ""))
    ctx.emit(TaskResultRecorded(node_id, 1, 0, "Succeeded", message, outputs))
    complete(ctx, node_id, "Succeeded", message, outputs)
    task_terminal_hooks(ctx, node_id, "Succeeded")


def resume(ctx: Ctx, node_id: str, payload: dict[str, JSON]) -> None:
    """SPEC §11.2: a new attempt with the payload merged into the inputs; no re-binding and
    no new deadline."""
    node = ctx.node(node_id)
    inputs = merge_payload(node.inputs, payload)
    timeout = node_timeout_text(ctx, node_id)
    task_hook(ctx, node_id, "onResume")
    node = ctx.node(node_id)
    _send(
        ctx,
        node_id,
        "resume",
        inputs,
        node.artifacts,
        node.retry_count,
        timeout,
        node.deadline_ms,
        payload,
    )


def redispatch_lost(ctx: Ctx, node_id: str) -> None:
    """SPEC §6.3: the current attempt can no longer report. It is closed (and cancelled,
    in case it still runs somewhere) and the next attempt is dispatched with the same
    inputs, retry count and deadline, so a lost attempt uses no retry."""
    node = ctx.node(node_id)
    lost = node.current_attempt
    assert lost is not None and lost.assignment is not None and lost.code is None
    ctx.emit(TaskCancelRequested(lost.assignment_id, node_id, lost.number))
    sent = lost.assignment
    _send(
        ctx,
        node_id,
        LOST,
        sent.inputs,
        sent.artifacts,
        node.retry_count,
        sent.timeout,
        node.deadline_ms,
        sent.resume_payload,
    )


# --- starts and results ----------------------------------------------------------------------


def accept_start(ctx: Ctx, node_id: str) -> None:
    ctx.emit(PhaseChanged(node_id, "Ready", "Running"))
    mark_started_chain(ctx, node_id)
    task_hook(ctx, node_id, "onStart")


def on_result(
    ctx: Ctx,
    node_id: str,
    code: int,
    message: str,
    parameters: tuple[ResultParameter, ...],
    *,
    synthetic: bool = False,
) -> bool:
    """SPEC §7.5 steps 1 to 6 for an accepted result of the current attempt (or, with
    ``synthetic``, the deadline's code 4). True when the node became terminal."""
    refused = None if synthetic else result_problem(parameters, ctx.state.limits)
    if refused is not None:
        code, message, parameters = 3, refused, ()
    definition, site = leaf_definition(ctx, node_id)
    node = ctx.node(node_id)
    raw = merge_parameters(node.accumulated, parameters)
    phase = base_phase(code)
    declaration = definition.outputs.parameters if definition.outputs else None
    outputs = leaf_outputs(raw, declaration)
    phase, warnings = apply_phase_conditions(ctx, node_id, definition.phase_conditions, phase, code, message, raw)
    attempt = node.current_attempt
    attempt_open = attempt is not None and attempt.code is None
    if phase == "Suspended":
        ctx.emit(TaskResultRecorded(node_id, node.attempt, code, phase, message, outputs, raw, warnings, synthetic))
        task_hook(ctx, node_id, "onSuspend")
        return False
    if attempt_open:
        ctx.emit(TaskResultRecorded(node_id, node.attempt, code, phase, message, outputs, (), warnings, synthetic))
    retried, retry_warnings = _maybe_retry(ctx, node_id, site, phase, code, message, outputs)
    if retried:
        return False
    complete(ctx, node_id, phase, message, outputs, warnings + retry_warnings)
    task_terminal_hooks(ctx, node_id, phase)
    return True


def apply_phase_conditions(
    ctx: Ctx,
    node_id: str,
    conditions: PhaseConditions | None,
    phase: Phase,
    code: int,
    message: str,
    raw: tuple[ResultParameter, ...],
) -> tuple[Phase, tuple[str, ...]]:
    """SPEC §6.5.1: succeeded, then failed, then error; the first true one sets the phase."""
    if conditions is None or conditions.is_empty:
        return phase, ()
    env = build_env(ctx.state, inputs=ctx.node(node_id).inputs, context=result_context(phase, code, message, raw))
    return evaluate_phase_conditions(ctx, conditions, phase, env)


def evaluate_phase_conditions(
    ctx: Ctx, conditions: PhaseConditions, phase: Phase, env: Any
) -> tuple[Phase, tuple[str, ...]]:
    warnings: list[str] = []
    targets: tuple[tuple[Phase, str | None], ...] = (
        ("Succeeded", conditions.succeeded),
        ("Failed", conditions.failed),
        ("Error", conditions.error),
    )
    for target, source in targets:
        if not source:
            continue
        try:
            result = evaluate_condition(source, env, ctx.state.limits)
        except ExpressionError as exc:
            warnings.append(f"phaseConditions.{target.lower()}: {exc}")
            continue
        warnings.extend(result.warnings)
        if result.value:
            return target, tuple(warnings)
    return phase, tuple(warnings)


# --- retries -------------------------------------------------------------------------------


def _maybe_retry(
    ctx: Ctx,
    node_id: str,
    site: DagTask | None,
    phase: Phase,
    code: int,
    message: str,
    outputs: tuple[ResultParameter, ...],
) -> tuple[bool, tuple[str, ...]]:
    """SPEC §9.1. Only a leaf that is a DAG task retries, with its call site's policy.
    Returns (retried, warnings); an expression error means no retry, with a warning."""
    no = (False, ())
    node = ctx.node(node_id)
    if site is None or site.retry is None or node.parent_id is None:
        return no
    if ctx.node(node.parent_id).template_type != "dag":
        return no
    policy = site.retry
    limit = policy.limit or 0
    if limit <= 0 or phase == "Succeeded" or node.retry_count >= limit:
        return no
    warnings: tuple[str, ...] = ()
    if policy.expression:
        parent = ctx.node(node.parent_id)
        name = node.task_name
        context = result_context(phase, code, message, outputs)
        context.update({f"tasks.{name}.phase": phase, f"tasks.{name}.msg": message, f"tasks.{name}.code": code})
        for param in outputs:
            if param.has_value:
                context[f"tasks.{name}.outputs.parameters.{param.name}"] = param.value
        context["retryCount"] = node.retry_count
        env = build_env(
            ctx.state, inputs=parent.inputs, nodes=dag_children_resolver(ctx.state, parent), context=context
        )
        try:
            result = evaluate_condition(policy.expression, env, ctx.state.limits)
        except ExpressionError as exc:
            return False, (f"retry.expression failed; no retry: {exc}",)
        warnings = result.warnings
        if not result.value:
            return False, warnings
    elif phase not in ("Error", "Timeout"):
        return no
    k = node.retry_count + 1
    delay = _backoff_ms(site, k)
    ctx.emit(RetryScheduled(node_id, node.attempt + 1, k, delay, warnings))
    if delay > 0:
        arm_timer(ctx, TimerId.retry(node_id, k), ctx.now_ms + delay)
        return True, ()
    dispatch(ctx, node_id, "retry")
    return True, ()


def _backoff_ms(site: DagTask, k: int) -> int:
    backoff = site.retry.backoff if site.retry else None
    if backoff is None:
        return 0
    base = duration_ms(backoff.duration)
    if base is None:
        return 0
    factor = backoff.factor if backoff.factor is not None else 1.0
    delay = base * factor ** (k - 1)
    cap = duration_ms(backoff.max_duration)
    if cap is not None:
        delay = min(delay, cap)
    return round(delay)


# --- deadlines -----------------------------------------------------------------------------


def on_deadline(ctx: Ctx, node_id: str) -> bool:
    """SPEC §10.2: cancel the unfinished attempt, then handle code 4 as a result."""
    attempt = ctx.node(node_id).current_attempt
    if attempt is not None and attempt.code is None:
        ctx.emit(TaskCancelRequested(attempt.assignment_id, node_id, attempt.number))
    # An attempt that never started ends from Ready (§11.4); a suspended one has its
    # result already, so only the node's outcome is decided.
    return on_result(ctx, node_id, 4, DEADLINE_MESSAGE, (), synthetic=True)


__all__ = ["accept_start", "base_phase", "dispatch", "on_deadline", "on_result", "redispatch_lost", "resume"]
