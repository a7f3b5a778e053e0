"""``apply(state, event) -> state`` for a run's stream.

Pure and total over the catalog: every event type has a handler (cron events do not
belong in a run stream and are rejected). Input events change only what is a fact
of the outside world (the time, a timer having fired); decisions change everything
else. Handlers never mutate: they build new records with ``replace`` and persistent
maps, so the state before the event stays valid (snapshots, time travel).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from immutables import Map

from aether.events import catalog as ev
from aether.events.phases import Phase
from aether.events.times import parse_ms
from aether.events.values import ResultParameter
from aether.model.limits import Limits
from aether.reducers.copying import replace
from aether.reducers.errors import IllegalTransition
from aether.reducers.phases import INITIAL_NODE_PHASES, node_allows, run_allows
from aether.reducers.plan import build_plan
from aether.reducers.state import (
    TERMINAL_PHASES,
    AttemptState,
    DagProgress,
    LoopProgress,
    NodeState,
    RunInfo,
    RunState,
    TimerState,
)

Handler = Callable[[RunState, Any], RunState]
_HANDLERS: dict[type[ev.Event], Handler] = {}


def handles(event_type: type[ev.Event]) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[event_type] = fn
        return fn

    return register


def apply(state: RunState | None, event: ev.Event) -> RunState:
    """Fold one event into a run's state. ``state`` is None only before ``WorkflowSubmitted``."""
    if state is None:
        if not isinstance(event, ev.WorkflowSubmitted):
            raise IllegalTransition(f"a run's history must start with WorkflowSubmitted, not {event.TYPE}")
        return _submitted(event)
    if isinstance(event, ev.WorkflowSubmitted):
        raise IllegalTransition("WorkflowSubmitted can only be the first event of a run")
    handler = _HANDLERS.get(type(event))
    if handler is None:
        raise IllegalTransition(f"{event.TYPE} does not belong in a run's history")
    new_state = handler(state, event)
    if new_state is state:
        return replace(state, event_count=state.event_count + 1)
    # The handler built a new record that nothing else has seen yet: counting the event
    # on it directly saves copying the whole state a second time for every event.
    object.__setattr__(new_state, "event_count", state.event_count + 1)
    return new_state


def fold(events: Iterable[ev.Event], state: RunState | None = None) -> RunState | None:
    for event in events:
        state = apply(state, event)
    return state


# --- inputs --------------------------------------------------------------------------------


def _submitted(event: ev.WorkflowSubmitted) -> RunState:
    plan = build_plan(event.document, event.templates_snapshot)
    metadata = plan.workflow.metadata
    at = parse_ms(event.at)
    info = RunInfo(
        run_id=event.run_id,
        name=(metadata.name if metadata else None) or "",
        namespace=(metadata.namespace if metadata else None) or "default",
        plan=plan,
        document=event.document,
        variables=event.variables,
        arguments=event.arguments,
        limits=Limits.from_json(event.limits) if event.limits else Limits(),
        submitted_ms=at,
        templates_snapshot=event.templates_snapshot,
        warnings=event.warnings,
        cron=event.cron,
        origin=event.origin,
        idempotency_key=event.idempotency_key,
    )
    return RunState(info=info, now_ms=at, event_count=1)


def _at_input(state: RunState, event: Any) -> RunState:
    return replace(state, now_ms=max(state.now_ms, parse_ms(event.at)))


for _input in (ev.ResumeRequested, ev.CancelRequested):
    _HANDLERS[_input] = _at_input


@handles(ev.TaskStarted)
def _task_started(state: RunState, event: ev.TaskStarted) -> RunState:
    now_ms = max(state.now_ms, parse_ms(event.at))
    if not event.running:
        return replace(state, now_ms=now_ms)
    node = _node_moved(state.node(event.node_id), "Ready", "Running", "", now_ms)
    return replace(state, now_ms=now_ms, nodes=state.nodes.set(node.node_id, node))


@handles(ev.TaskResultReported)
def _task_result_reported(state: RunState, event: ev.TaskResultReported) -> RunState:
    """The report, and what its record carries: the implied start, the recorded result
    and the leaf's completion (SPEC §6.6.1)."""
    recorded, completed = event.recorded, event.completed
    if (
        event.running
        or recorded is None
        or completed is None
        or recorded.phase == "Suspended"
        or completed.from_phase == "Suspended"
    ):
        return _task_result_reported_stepwise(state, event)
    # A task's happy end, the bulk of every run: the same checks and changes as recording
    # the result and then completing the node, in one copy of the state instead of five.
    node = state.node(event.node_id)
    attempt = node.current_attempt
    phase = completed.phase
    well_formed = (
        attempt is not None
        and attempt.number == event.attempt
        and attempt.code is None
        and not node.terminal
        and phase in TERMINAL_PHASES
        and phase != "Skipped"
        and node.phase == completed.from_phase
    )
    if not well_formed or attempt is None:
        return _task_result_reported_stepwise(state, event)  # raises, saying what is wrong
    _check_node_move(node, phase)
    now = max(state.now_ms, parse_ms(event.at))
    attempt = replace(
        attempt,
        code=recorded.code,
        phase=recorded.phase,
        message=recorded.message,
        finished_ms=now,
        assignment=None,
    )
    node = replace(
        node,
        attempts=(*node.attempts[:-1], attempt),
        last_code=recorded.code,
        phase=phase,
        message=completed.message,
        outputs=recorded.outputs,
        finished_ms=now,
    )
    nodes = state.nodes.set(node.node_id, node)
    if node.parent_id is not None:
        parent = _parent_after_child_finished(state, state.node(node.parent_id), node, phase)
        nodes = nodes.set(parent.node_id, parent)
    open_attempts = state.open_attempts
    if attempt.assignment_id in open_attempts:
        open_attempts = open_attempts.delete(attempt.assignment_id)
    return replace(state, now_ms=now, nodes=nodes, open_attempts=open_attempts)


def _task_result_reported_stepwise(state: RunState, event: ev.TaskResultReported) -> RunState:
    state = _at_input(state, event)
    if event.running:
        state = state.with_node(_node_moved(state.node(event.node_id), "Ready", "Running", "", state.now_ms))
    recorded = event.recorded
    if recorded is None:
        return state
    state = _record_result(
        state, event.node_id, event.attempt, recorded.code, recorded.phase, recorded.message, recorded.accumulated
    )
    completed = event.completed
    if completed is None:
        return state
    return _complete_node(
        state, event.node_id, completed.from_phase, completed.phase, completed.message, recorded.outputs
    )


@handles(ev.AttemptLost)
def _attempt_lost(state: RunState, event: ev.AttemptLost) -> RunState:
    """Keeps why the attempt was lost on the attempt itself, for the audit trail; a loss
    the decider will ignore (not the node's open current attempt) changes nothing."""
    state = _at_input(state, event)
    node = state.get_node(event.node_id)
    attempt = node.current_attempt if node is not None else None
    if (
        node is None
        or attempt is None
        or attempt.number != event.attempt
        or attempt.code is not None
        or attempt.assignment_id not in state.open_attempts
    ):
        return state
    lost = replace(attempt, message=f"lost ({event.reason})")
    return state.with_node(replace(node, attempts=(*node.attempts[:-1], lost)))


@handles(ev.TimerFired)
def _timer_fired(state: RunState, event: ev.TimerFired) -> RunState:
    state = _at_input(state, event)
    timer: TimerState | None = state.timers.get(event.timer_id)
    if timer is None or timer.fired:
        return state
    return replace(state, timers=state.timers.set(event.timer_id, replace(timer, fired=True)))


# --- nodes ---------------------------------------------------------------------------------


@handles(ev.NodeCreated)
def _node_created(state: RunState, event: ev.NodeCreated) -> RunState:
    if event.phase not in INITIAL_NODE_PHASES:
        raise IllegalTransition(f"node {event.node_id} cannot be created in phase {event.phase}")
    _check_new(state, event.node_id)
    node = _new_node(
        state,
        event.node_id,
        event,
        template_type=event.template_type,
        phase=event.phase,
        message=event.message,
        finished_ms=state.now_ms if event.phase == "Skipped" else None,
    )
    return _create_node(state, node)


def _create_node(state: RunState, node: NodeState) -> RunState:
    """Add ``node``, just built from its creation record (checked by ``_check_new``)."""
    key = node.template_key
    if node.phase == "Created":
        if node.template_type == "dag" and key is not None:
            roots = state.plan.dag(key).roots
            node = replace(node, dag=DagProgress(ready=Map({i: True for i in roots})))
        elif node.template_type == "loop":
            node = replace(node, loop=LoopProgress())
    nodes = state.nodes.set(node.node_id, node)
    parent = None if node.parent_id is None else state.node(node.parent_id)
    if parent is not None and not (parent.dag is not None and node.phase == "Skipped"):
        nodes = nodes.set(parent.node_id, _parent_with_child(parent, node))
        parent = None  # counted: the usual case, in the one copy of the state below
    state = replace(
        state,
        nodes=nodes,
        order=state.order.set(state.node_count, node.node_id),
        node_count=state.node_count + 1,
    )
    if parent is not None:  # a DAG child created Skipped: finished as it is created
        state = _dag_child_finished(state, _parent_with_child(parent, node, unfinished=0), node, "Skipped")
    return state


def _shared(text: str | None) -> str | None:
    # Names every node of a run repeats (its parent, its template) are kept once: a
    # run's state must stay small per task however many tasks it has.
    return None if text is None else sys.intern(text)


def _check_new(state: RunState, node_id: str) -> None:
    if node_id in state.nodes:
        raise IllegalTransition(f"node {node_id} created twice")
    if state.limits.nodes_per_run and state.node_count >= state.limits.nodes_per_run:
        raise IllegalTransition(f"node limit of {state.limits.nodes_per_run} exceeded")


def _template_key(state: RunState, parent_id: str | None, task_index: int | None) -> tuple[str, str] | None:
    plan = state.plan
    if parent_id is None:
        return plan.entry_key
    parent: NodeState = state.node(parent_id)
    assert parent.template_key is not None
    if parent.template_type == "dag":
        assert task_index is not None
        return plan.dag(parent.template_key).targets[task_index].key
    body = plan.loop_template(parent.template_key).body or ""
    return plan.resolve_name(parent.template_key[0], body)


def _parent_with_child(parent: NodeState, child: NodeState, *, unfinished: int = 1) -> NodeState:
    """A container once ``child`` was created in it (``unfinished``: 0 for a DAG child
    created Skipped, which never counts as unfinished)."""
    if parent.dag is not None:
        assert child.task_index is not None
        dag = parent.dag
        dag = replace(
            dag,
            children=dag.children.set(child.task_index, child.node_id),
            ready=dag.ready.delete(child.task_index) if child.task_index in dag.ready else dag.ready,
            unfinished=dag.unfinished + unfinished,
        )
        return replace(parent, dag=dag)
    if parent.loop is not None:
        assert child.index is not None
        loop = parent.loop
        loop = replace(
            loop,
            iterations=loop.iterations.set(child.index, child.node_id),
            created=loop.created + 1,
            unfinished=loop.unfinished + 1,
        )
        return replace(parent, loop=loop)
    raise IllegalTransition(f"node {child.node_id}: parent {parent.node_id} is not a container")


def _parent_after_child_finished(state: RunState, parent: NodeState, child: NodeState, phase: Phase) -> NodeState:
    """The parent (a DAG or a loop) once its child ``child`` reached ``phase``."""
    if parent.dag is not None:
        return _dag_after_child_finished(state, parent, child, phase)
    return _loop_after_child_finished(parent, phase)


def _dag_child_finished(state: RunState, parent: NodeState, child: NodeState, phase: Phase) -> RunState:
    return state.with_node(_dag_after_child_finished(state, parent, child, phase))


def _dag_after_child_finished(state: RunState, parent: NodeState, child: NodeState, phase: Phase) -> NodeState:
    """A DAG's counters once a child reached ``phase`` (Skipped counts at creation)."""
    assert parent.dag is not None and parent.template_key is not None and child.task_index is not None
    plan = state.plan.dag(parent.template_key)
    dag = parent.dag
    index = child.task_index
    counters: dict[str, int] = {}
    if phase != "Skipped":
        counters["unfinished"] = dag.unfinished - 1
    if phase == "Cancelled":
        counters["cancelled"] = dag.cancelled + 1
    elif phase in ("Error", "Timeout") and not plan.tolerated(index, phase):
        counters["errored"] = dag.errored + 1
    elif phase == "Failed" and not plan.tolerated(index, phase):
        counters["failed"] = dag.failed + 1
    dependents = plan.dependents[index]
    if not dependents:
        return replace(parent, dag=replace(dag, **counters))
    satisfied_map, blocked, ready = dag.satisfied, dag.blocked, dag.ready
    satisfies = plan.satisfies(index, phase)
    for dependent in dependents:
        if dependent in blocked or not plan.reachable[dependent] or plan.blocked_from_start[dependent]:
            continue
        if not satisfies:
            blocked = blocked.set(dependent, True)
            continue
        count = satisfied_map.get(dependent, 0) + 1
        satisfied_map = satisfied_map.set(dependent, count)
        if count == plan.dep_count[dependent]:
            ready = ready.set(dependent, True)
    dag = replace(dag, satisfied=satisfied_map, blocked=blocked, ready=ready, **counters)
    return replace(parent, dag=dag)


def _loop_child_finished(state: RunState, parent: NodeState, phase: Phase) -> RunState:
    return state.with_node(_loop_after_child_finished(parent, phase))


def _loop_after_child_finished(parent: NodeState, phase: Phase) -> NodeState:
    assert parent.loop is not None
    loop = parent.loop
    counts: dict[Phase, str] = {
        "Succeeded": "succeeded",
        "Failed": "failed",
        "Error": "errored",
        "Timeout": "errored",
        "Cancelled": "cancelled",
        "Skipped": "skipped",
    }
    field = counts[phase]
    loop = replace(loop, unfinished=loop.unfinished - 1, **{field: getattr(loop, field) + 1})
    return replace(parent, loop=loop)


def _check_node_move(node: NodeState, to_phase: Phase) -> None:
    if not node_allows(node.template_type, node.phase, to_phase):
        raise IllegalTransition(
            f"node {node.node_id} ({node.template_type}): {node.phase} -> {to_phase} is not an allowed transition"
        )


@handles(ev.PhaseChanged)
def _phase_changed(state: RunState, event: ev.PhaseChanged) -> RunState:
    if event.node_id is None:
        if state.phase != event.from_phase or not run_allows(state.phase, event.to_phase):
            raise IllegalTransition(f"run: {state.phase} -> {event.to_phase} is not an allowed transition")
        started = state.started_ms
        if event.to_phase == "Running" and started is None:
            started = state.now_ms
        return replace(state, phase=event.to_phase, message=event.message, started_ms=started)
    node = state.node(event.node_id)
    return state.with_node(_node_moved(node, event.from_phase, event.to_phase, event.message, state.now_ms))


def _node_moved(node: NodeState, from_phase: Phase, to_phase: Phase, message: str, now_ms: int) -> NodeState:
    """``node`` after a non-terminal phase change (a ``PhaseChanged``, or the move to
    Running a start record carries)."""
    if node.phase != from_phase:
        raise IllegalTransition(f"node {node.node_id} is {node.phase}, not {from_phase}")
    _check_node_move(node, to_phase)
    if to_phase in TERMINAL_PHASES:
        raise IllegalTransition(f"node {node.node_id}: terminal phases are recorded by NodeCompleted")
    changes: dict[str, Any] = {"phase": to_phase, "message": message}
    if to_phase == "Running":
        if node.started_ms is None:
            changes["started_ms"] = now_ms
        attempt = node.current_attempt
        if attempt is not None and attempt.started_ms is None:
            changes["attempts"] = (*node.attempts[:-1], replace(attempt, started_ms=now_ms))
    return replace(node, **changes)


@handles(ev.InputsBound)
def _inputs_bound(state: RunState, event: ev.InputsBound) -> RunState:
    node = state.node(event.node_id)
    return state.with_node(replace(node, inputs=event.parameters, artifacts=event.artifacts))


@handles(ev.TaskDispatched)
def _task_dispatched(state: RunState, event: ev.TaskDispatched) -> RunState:
    created = event.created
    if created is not None and created.parent_id is not None and event.attempt == 1:
        return _leaf_created_and_dispatched(state, event, created, created.parent_id)
    if created is not None:
        _check_new(state, event.node_id)
        state = _create_node(state, _leaf(state, event, created, artifacts=event.assignment.artifacts))
    node = state.node(event.node_id)
    if event.attempt != node.attempt + 1:
        raise IllegalTransition(f"node {node.node_id}: attempt {event.attempt} dispatched after {node.attempt}")
    if node.phase != "Ready":
        _check_node_move(node, "Ready")
    previous_phase = node.phase
    assignment = event.assignment
    attempt = AttemptState(
        number=event.attempt,
        reason=sys.intern(event.reason),
        retry_count=assignment.retry_count,
        assignment_id=assignment.id,
        dispatched_ms=state.now_ms,
        inputs=assignment.inputs,
        assignment=assignment,
    )
    reused = event.reason == "reuse"
    was_fresh = node.fresh
    node = replace(
        node,
        phase="Ready",
        message="",  # a new attempt: the last one's message no longer describes the node
        attempt=event.attempt,
        retry_count=assignment.retry_count,
        attempts=(*node.attempts, attempt),
        inputs=assignment.inputs,
        deadline_ms=event.deadline_ms if event.reason != "resume" else node.deadline_ms,
        fresh=node.fresh or not reused,
    )
    nodes = state.nodes.set(node.node_id, node)
    changes: dict[str, Any] = {"nodes": nodes}
    if previous_phase == "Suspended":
        changes["suspended"] = state.suspended - 1
    if not reused:
        if not was_fresh and node.parent_id is not None:  # else its ancestors are fresh already
            changes["nodes"] = _fresh_up(nodes, nodes[node.parent_id])
        changes["open_attempts"] = state.open_attempts.set(assignment.id, node.node_id)
    return replace(state, **changes)


def _leaf_created_and_dispatched(
    state: RunState, event: ev.TaskDispatched, created: ev.LeafCreation, parent_id: str
) -> RunState:
    """The bulk of every run: a leaf created, bound and dispatched by one record, built in
    its final form and added with its parent in one copy of the state (the same result as
    folding the ``NodeCreated``, ``InputsBound`` and ``TaskDispatched`` it stands for)."""
    _check_new(state, event.node_id)
    assignment = event.assignment
    now_ms = state.now_ms
    reused = event.reason == "reuse"
    attempt = AttemptState(
        number=1,
        reason=sys.intern(event.reason),
        retry_count=assignment.retry_count,
        assignment_id=assignment.id,
        dispatched_ms=now_ms,
        inputs=assignment.inputs,
        assignment=assignment,
    )
    leaf = _leaf(
        state,
        event,
        created,
        phase="Ready",
        inputs=assignment.inputs,
        artifacts=assignment.artifacts,
        attempt=1,
        retry_count=assignment.retry_count,
        attempts=(attempt,),
        deadline_ms=event.deadline_ms,
        fresh=not reused,
    )
    parent = _parent_with_child(state.node(parent_id), leaf)
    nodes = state.nodes.set(leaf.node_id, leaf).set(parent.node_id, parent)
    open_attempts = state.open_attempts
    if not reused:
        open_attempts = open_attempts.set(assignment.id, leaf.node_id)
        nodes = _fresh_up(nodes, parent)
    return replace(
        state,
        nodes=nodes,
        order=state.order.set(state.node_count, leaf.node_id),
        node_count=state.node_count + 1,
        open_attempts=open_attempts,
    )


def _fresh_up(nodes: Map[str, NodeState], ancestor: NodeState) -> Map[str, NodeState]:
    """``nodes`` once a leaf under ``ancestor`` was dispatched in this run: ``ancestor`` and
    those above it are marked fresh, up to the first that already is."""
    while not ancestor.fresh:
        nodes = nodes.set(ancestor.node_id, replace(ancestor, fresh=True))
        if ancestor.parent_id is None:
            break
        ancestor = nodes[ancestor.parent_id]
    return nodes


def _leaf(state: RunState, event: ev.TaskDispatched, created: ev.LeafCreation, **fields: Any) -> NodeState:
    """The leaf a dispatch record creates, as of the state before it, with ``fields``."""
    return _new_node(state, event.node_id, created, template_type="task", **fields)


def _new_node(state: RunState, node_id: str, created: ev.NodeCreated | ev.LeafCreation, **fields: Any) -> NodeState:
    """A node as its creation record (a ``NodeCreated``, or the creation a dispatch record
    carries) describes it, as of the state before that record, with ``fields``."""
    return NodeState(
        node_id=node_id,
        parent_id=_shared(created.parent_id),
        task_name=sys.intern(created.task_name),
        template_name=sys.intern(created.template_name),
        depth=created.depth,
        seq=state.node_count,
        created_ms=state.now_ms,
        template_key=_template_key(state, created.parent_id, created.task_index),
        index=created.index,
        task_index=created.task_index,
        **fields,
    )


@handles(ev.TaskResultRecorded)
def _result_recorded(state: RunState, event: ev.TaskResultRecorded) -> RunState:
    return _record_result(
        state, event.node_id, event.attempt, event.code, event.phase, event.message, event.accumulated
    )


def _record_result(
    state: RunState,
    node_id: str,
    number: int,
    code: int,
    phase: Phase,
    message: str,
    accumulated: tuple[ResultParameter, ...],
) -> RunState:
    node = state.node(node_id)
    attempt = node.current_attempt
    if attempt is None or attempt.number != number:
        raise IllegalTransition(f"node {node.node_id}: result for attempt {number} is not current")
    if attempt.code is not None:
        raise IllegalTransition(f"node {node.node_id}: attempt {number} finished twice")
    if node.terminal:
        raise IllegalTransition(f"node {node.node_id} is {node.phase}: no result can be recorded for it")
    # The assignment is kept only while it may have to be sent again (a lost attempt):
    # a finished task costs its run no more than its record.
    attempt = replace(attempt, code=code, phase=phase, message=message, finished_ms=state.now_ms, assignment=None)
    changes: dict[str, Any] = {
        "attempts": (*node.attempts[:-1], attempt),
        "last_code": code,
    }
    suspended = state.suspended
    if phase == "Suspended":
        _check_node_move(node, "Suspended")
        changes.update(phase="Suspended", message=message, accumulated=accumulated, outputs=accumulated)
        suspended += 1
    return replace(
        state.with_node(replace(node, **changes)),
        suspended=suspended,
        open_attempts=state.open_attempts.delete(attempt.assignment_id)
        if attempt.assignment_id in state.open_attempts
        else state.open_attempts,
    )


@handles(ev.RetryScheduled)
def _retry_scheduled(state: RunState, event: ev.RetryScheduled) -> RunState:
    node = state.node(event.node_id)
    if node.terminal or not node.is_leaf:
        raise IllegalTransition(f"node {node.node_id} ({node.template_type}, {node.phase}) cannot be retried")
    changes: dict[str, Any] = {"accumulated": (), "retry_count": event.retry_count}
    if event.delay_ms > 0:
        _check_node_move(node, "Created")
        changes["phase"] = "Created"
        if node.phase == "Suspended":
            return replace(state.with_node(replace(node, **changes)), suspended=state.suspended - 1)
    return state.with_node(replace(node, **changes))


@handles(ev.LoopExpanded)
def _loop_expanded(state: RunState, event: ev.LoopExpanded) -> RunState:
    node = state.node(event.node_id)
    if node.loop is None:
        raise IllegalTransition(f"node {node.node_id} is not a loop")
    total = None if event.mode == "repeat" else event.count
    items = None if event.mode == "repeat" else event.items
    loop = replace(node.loop, mode=event.mode, expanded=True, items=items, total=total)
    return state.with_node(replace(node, loop=loop))


@handles(ev.RepeatConditionEvaluated)
def _repeat_evaluated(state: RunState, event: ev.RepeatConditionEvaluated) -> RunState:
    node = state.node(event.node_id)
    if node.loop is None:
        raise IllegalTransition(f"node {node.node_id} is not a loop")
    if event.value:
        return state
    return state.with_node(replace(node, loop=replace(node.loop, stopped=True)))


@handles(ev.NodeCompleted)
def _node_completed(state: RunState, event: ev.NodeCompleted) -> RunState:
    return _complete_node(state, event.node_id, event.from_phase, event.phase, event.message, event.outputs)


def _complete_node(
    state: RunState,
    node_id: str,
    from_phase: Phase,
    phase: Phase,
    message: str,
    outputs: tuple[ResultParameter, ...] | None,
) -> RunState:
    node = state.node(node_id)
    if phase not in TERMINAL_PHASES or phase == "Skipped":
        raise IllegalTransition(f"node {node.node_id}: NodeCompleted to {phase}, which is not a terminal phase")
    if node.phase != from_phase:
        raise IllegalTransition(f"node {node.node_id} is {node.phase}, not {from_phase}")
    _check_node_move(node, phase)
    if node.phase == "Suspended":
        state = replace(state, suspended=state.suspended - 1)
    node = replace(
        node,
        phase=phase,
        message=message,
        outputs=outputs if outputs is not None else node.outputs,
        finished_ms=state.now_ms,
    )
    if node.loop is not None and not node.loop.stopped:
        node = replace(node, loop=replace(node.loop, stopped=True))
    state = state.with_node(node)
    if node.parent_id is None:
        return state
    parent = state.node(node.parent_id)
    if parent.dag is not None:
        return _dag_child_finished(state, parent, node, phase)
    return _loop_child_finished(state, parent, phase)


# --- timers, cancellation, hooks, completion -------------------------------------------------


@handles(ev.TimerArmed)
def _timer_armed(state: RunState, event: ev.TimerArmed) -> RunState:
    timer = TimerState(event.timer_id, event.due_ms, event.purpose, event.node_id, state.timer_seq)
    return replace(state, timers=state.timers.set(event.timer_id, timer), timer_seq=state.timer_seq + 1)


@handles(ev.TaskCancelRequested)
def _task_cancel_requested(state: RunState, event: ev.TaskCancelRequested) -> RunState:
    if event.assignment_id not in state.open_attempts:
        return state
    return replace(state, open_attempts=state.open_attempts.delete(event.assignment_id))


@handles(ev.HookFired)
def _hook_fired(state: RunState, event: ev.HookFired) -> RunState:
    key = (event.node_id or "-", event.hook_type)
    return replace(
        state,
        hook_counts=state.hook_counts.set(key, state.hook_counts.get(key, 0) + 1),
        undelivered_hooks=state.undelivered_hooks.set(event.idempotency_key, event.payload),
    )


@handles(ev.HookDelivered)
def _hook_delivered(state: RunState, event: ev.HookDelivered) -> RunState:
    state = _at_input(state, event)
    if event.idempotency_key not in state.undelivered_hooks:
        return state
    return replace(state, undelivered_hooks=state.undelivered_hooks.delete(event.idempotency_key))


@handles(ev.WorkflowCompleted)
def _workflow_completed(state: RunState, event: ev.WorkflowCompleted) -> RunState:
    if state.phase != event.from_phase or not run_allows(state.phase, event.phase):
        raise IllegalTransition(f"run: {state.phase} -> {event.phase} is not an allowed transition")
    return replace(state, phase=event.phase, message=event.message, outputs=event.outputs, finished_ms=state.now_ms)


def _no_change(state: RunState, _event: Any) -> RunState:
    return state


for _passive in (ev.InputIgnored, ev.InputRejected):
    _HANDLERS[_passive] = _no_change
