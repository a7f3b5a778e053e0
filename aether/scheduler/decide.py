"""``decide(state, trigger) -> Decision``: every aether/v1 scheduling rule, as a pure
function of a run's state and one input event (ARCHITECTURE layer 6).

The input is folded first, then the decision's events are derived and folded one by
one. The runtime appends ``decision.recorded`` (the input and its decision, in the compact
form of SPEC §6.6.1) atomically and only then performs ``decision.effects``.
"""

from __future__ import annotations

import orjson

from aether.events import catalog as ev
from aether.events.codec import unencodable_reason
from aether.events.compaction import plain_input
from aether.events.timers import TimerId
from aether.reducers.errors import IllegalTransition
from aether.reducers.run import apply
from aether.reducers.state import NodeState, RunState
from aether.scheduler import leaf, lifecycle
from aether.scheduler.context import Ctx, Decision, Rejection
from aether.scheduler.flow import NodeLimitExceeded, create_entry, finish_run, walk_up
from aether.scheduler.nodes import arm_timer, duration_ms


def decide(state: RunState | None, trigger: ev.Event) -> Decision:
    # Only the input as it arrived is decided: decisions a record carries (SPEC §6.6.1)
    # are derived here, never taken from outside.
    trigger = plain_input(trigger)
    before = apply(state, trigger)
    ctx = Ctx(before)
    try:
        _dispatch_input(ctx, trigger)
        _check_history_limit(ctx)
    except NodeLimitExceeded:
        ctx = Ctx(before)
        lifecycle.abort_run(ctx, "node limit exceeded")
    except IllegalTransition as exc:
        ctx = Ctx(before)
        if not before.terminal:
            lifecycle.abort_run(ctx, f"engine internal error: {exc}")
    except Exception as exc:  # a bug in the decider: end this run, never lose the input
        # Deterministic like everything here: replaying the input raises the same error
        # and so records the same decision.
        ctx = Ctx(before)
        if not before.terminal:
            lifecycle.abort_run(ctx, f"engine internal error: {type(exc).__name__}: {exc}")
    return ctx.decision(state, trigger)


def decide_unrecordable(state: RunState | None, trigger: ev.Event, reason: str) -> Decision:
    """The decision when ``decide``'s own events cannot be recorded: the input is kept and
    the run ends in Error saying why, so one poisoned value fails its run and nothing
    else. Deterministic, so verifying the run re-derives it."""
    trigger = plain_input(trigger)
    before = apply(state, trigger)
    ctx = Ctx(before)
    if not before.terminal:
        lifecycle.abort_run(ctx, f"a decision could not be recorded: {reason}")
    return ctx.decision(state, trigger)


def recordable_decision(state: RunState | None, trigger: ev.Event) -> Decision:
    """``decide``, or :func:`decide_unrecordable` when its events cannot be recorded: what
    the engine records for ``trigger``."""
    decision = decide(state, trigger)
    reason = unencodable_reason(decision.events)
    return decision if reason is None else decide_unrecordable(state, trigger, reason)


def _check_history_limit(ctx: Ctx) -> None:
    state = ctx.state
    if not state.terminal and state.event_count >= state.limits.events_per_run:
        lifecycle.abort_run(ctx, "history limit exceeded")


def _dispatch_input(ctx: Ctx, trigger: ev.Event) -> None:
    if isinstance(trigger, ev.WorkflowSubmitted):
        _on_submitted(ctx)
    elif isinstance(trigger, ev.TaskStarted):
        _on_started(ctx, trigger)
    elif isinstance(trigger, ev.TaskResultReported):
        _on_result(ctx, trigger)
    elif isinstance(trigger, ev.TimerFired):
        _on_timer(ctx, trigger)
    elif isinstance(trigger, ev.ResumeRequested):
        _on_resume(ctx, trigger)
    elif isinstance(trigger, ev.CancelRequested):
        _on_cancel(ctx, trigger)
    elif isinstance(trigger, ev.AttemptLost):
        _on_lost(ctx, trigger)
    elif isinstance(trigger, ev.HookDelivered):
        pass  # a fact about the outside world: the reducer records it; nothing to decide
    else:
        raise IllegalTransition(f"{trigger.TYPE} is not an input of a run")


def _on_submitted(ctx: Ctx) -> None:
    state = ctx.state
    due = duration_ms(state.plan.spec.timeout)
    if due is not None:
        arm_timer(ctx, TimerId.workflow(), state.submitted_ms + due)
    create_entry(ctx)
    entry_id = ctx.state.entry_id()
    if entry_id is not None and ctx.node(entry_id).terminal:
        finish_run(ctx)


def _ignore(
    ctx: Ctx, trigger: ev.Event, reason: str, node_id: str | None = None, attempt: int | None = None, detail: str = ""
) -> None:
    ctx.emit(ev.InputIgnored(trigger.TYPE, reason, node_id, attempt, None, detail))


def _attempt_gate(ctx: Ctx, trigger: ev.TaskStarted | ev.TaskResultReported | ev.AttemptLost) -> NodeState | None:
    """The node a start, result or loss is for, if it is for the current, open attempt;
    otherwise records why it is ignored (SPEC §7.5, rule 6)."""
    node = ctx.state.get_node(trigger.node_id)
    if node is None:
        _ignore(ctx, trigger, "unknown-node", trigger.node_id, trigger.attempt)
        return None
    current = node.current_attempt
    if current is not None and current.number == trigger.attempt and current.code is not None:
        _ignore(ctx, trigger, "duplicate", node.node_id, trigger.attempt, "the attempt has a result already")
        return None
    if current is None or current.number != trigger.attempt:
        _ignore(ctx, trigger, "stale-attempt", node.node_id, trigger.attempt, f"current attempt is {node.attempt}")
        return None
    if ctx.state.terminal:
        _ignore(ctx, trigger, "run-terminal", node.node_id, trigger.attempt)
        return None
    if node.terminal:
        _ignore(ctx, trigger, "node-terminal", node.node_id, trigger.attempt)
        return None
    return node


def _on_started(ctx: Ctx, trigger: ev.TaskStarted) -> None:
    node = _attempt_gate(ctx, trigger)
    if node is None:
        return
    if node.phase != "Ready":
        _ignore(ctx, trigger, "duplicate", node.node_id, trigger.attempt, f"node is {node.phase}")
        return
    leaf.accept_start(ctx, node.node_id)


def _on_result(ctx: Ctx, trigger: ev.TaskResultReported) -> None:
    node = _attempt_gate(ctx, trigger)
    if node is None:
        return
    if node.phase == "Ready":
        leaf.accept_start(ctx, node.node_id)  # a result implies the start (§17 #10)
    ended = leaf.on_result(ctx, node.node_id, trigger.code, trigger.message, trigger.parameters)
    if ended:
        walk_up(ctx, node.node_id)


def _on_lost(ctx: Ctx, trigger: ev.AttemptLost) -> None:
    """SPEC §6.3: the next attempt is dispatched; a lost attempt uses no retry."""
    node = _attempt_gate(ctx, trigger)
    if node is None:
        return
    leaf.redispatch_lost(ctx, node.node_id)


def _on_timer(ctx: Ctx, trigger: ev.TimerFired) -> None:
    state = ctx.state
    timer = state.timers.get(trigger.timer_id)
    if timer is None:
        ctx.emit(ev.InputIgnored(trigger.TYPE, "unknown-timer", None, None, trigger.timer_id))
        return
    if state.terminal:
        ctx.emit(ev.InputIgnored(trigger.TYPE, "run-terminal", timer.node_id, None, trigger.timer_id))
        return
    if timer.purpose == "workflow":
        lifecycle.workflow_deadline(ctx)
        return
    node = state.get_node(timer.node_id) if timer.node_id else None
    if node is None or node.terminal:
        ctx.emit(ev.InputIgnored(trigger.TYPE, "node-terminal", timer.node_id, None, trigger.timer_id))
        return
    parsed = TimerId.parse(trigger.timer_id)
    armed_for = parsed.retry_count if parsed is not None else None
    if timer.purpose == "container":
        lifecycle.container_deadline(ctx, node.node_id)
    elif timer.purpose == "task":
        stale = armed_for != node.retry_count or node.phase not in ("Ready", "Running", "Suspended")
        if stale:
            ctx.emit(ev.InputIgnored(trigger.TYPE, "stale-attempt", node.node_id, node.attempt, trigger.timer_id))
            return
        if leaf.on_deadline(ctx, node.node_id):
            walk_up(ctx, node.node_id)
    elif timer.purpose == "retry":
        if node.phase != "Created" or armed_for != node.retry_count:
            ctx.emit(ev.InputIgnored(trigger.TYPE, "stale-attempt", node.node_id, node.attempt, trigger.timer_id))
            return
        if leaf.dispatch(ctx, node.node_id, "retry"):
            walk_up(ctx, node.node_id)


def _reject(ctx: Ctx, trigger: ev.Event, code: str, message: str, node_id: str | None = None) -> None:
    ctx.emit(ev.InputRejected(trigger.TYPE, code, message, node_id))
    ctx.rejection = Rejection(code, message)


def _on_resume(ctx: Ctx, trigger: ev.ResumeRequested) -> None:
    state = ctx.state
    if state.terminal:
        _reject(
            ctx, trigger, "E-RUN-TERMINAL", f"workflow run {state.run_id} is already in terminal state", trigger.node_id
        )
        return
    node = state.get_node(trigger.node_id)
    if node is None:
        _reject(
            ctx, trigger, "E-NODE-UNKNOWN", f'node "{trigger.node_id}" not found in run {state.run_id}', trigger.node_id
        )
        return
    size = len(orjson.dumps(trigger.payload))
    if size > state.limits.payload_bytes:
        _reject(
            ctx,
            trigger,
            "E-RESUME-PAYLOAD",
            f"resume payload is {size} bytes; the limit is {state.limits.payload_bytes}",
            node.node_id,
        )
        return
    if node.phase != "Suspended":
        _reject(
            ctx,
            trigger,
            "E-RESUME-NOT-SUSPENDED",
            f'node "{node.node_id}" is {node.phase}, not Suspended',
            node.node_id,
        )
        return
    leaf.resume(ctx, node.node_id, trigger.payload)


def _on_cancel(ctx: Ctx, trigger: ev.CancelRequested) -> None:
    if ctx.state.terminal:
        _reject(ctx, trigger, "E-RUN-TERMINAL", f"workflow run {ctx.state.run_id} is already in terminal state")
        return
    lifecycle.cancel_run(ctx, trigger.reason or lifecycle.CANCEL_MESSAGE)
