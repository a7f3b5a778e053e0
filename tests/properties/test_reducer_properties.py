"""Properties of the reducers over histories that ``decide`` produces (ARCHITECTURE
"Tests that hold it together", SPEC §6.4, §6.6).

A history is made by driving the pure decider with a random valid document and random
inputs (``decided_histories.py``: starts and results of dispatched attempts, duplicates,
stale attempts, timers, resumes and cancels). Properties:

- folding is deterministic, and replaying the inputs through ``decide`` reproduces the
  recorded decisions (ARCHITECTURE rule 2);
- folding a prefix and then the rest equals folding everything (run view and RunState
  minus the plan);
- ``apply`` and ``decide`` never mutate their input state;
- every phase change follows an edge of SPEC §6.4 (the tables are transcribed here,
  independently of ``aether/reducers/phases.py``), and inputs change no phase;
- an event that asks for a move the tables do not list raises ``IllegalTransition``;
- every event round-trips through the codec;
- a ``RunViewer`` asked after any event shows the ``run_view`` of that state.
"""

from __future__ import annotations

import pickle
from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from support.documents import dag, dag_task, executor, loop, task, workflow

from aether.events import catalog as ev
from aether.events.assignment import TaskAssignment
from aether.events.codec import decode_raw, encode
from aether.events.compaction import expand_all, plain_input
from aether.events.times import format_ms
from aether.model.limits import DEFAULT_LIMITS
from aether.projections.views import RunViewer, run_view
from aether.reducers import phases as lib_phases
from aether.reducers.errors import IllegalTransition
from aether.reducers.run import apply, fold
from aether.reducers.state import NodeState, RunState
from aether.runtime.submission import load_workflow
from aether.scheduler.decide import decide
from tests.properties.decided_histories import T0_MS, History, histories, submit_event
from tests.properties.generators import (
    ALL_PHASES,
    INITIAL_PHASES,
    SPEC_CONTAINER_EDGES,
    SPEC_LEAF_EDGES,
    SPEC_RUN_EDGES,
    TERMINAL,
    nesting_depth,
    spec_allows,
    task_count,
    workflows,
)

pytestmark = pytest.mark.spec("1.3", "6.4", "6.6", "7.5", "11.3")

JSON = Any

PHASE_EVENTS = (
    ev.NodeCreated,
    ev.PhaseChanged,
    ev.TaskDispatched,
    ev.TaskResultRecorded,
    ev.RetryScheduled,
    ev.NodeCompleted,
    ev.WorkflowCompleted,
)


# --- comparison helpers ----------------------------------------------------------------------


def without_plan(state: RunState | None) -> RunState | None:
    """RunState minus its plan: an index of the document that memoises per-DAG tables on
    first use, so it is neither history nor stable under pickling. (It is left out of
    equality; this also takes it out of a pickle.) Works whether the plan is a field of
    the state or of its ``info`` record."""
    if state is None:
        return None
    names = attrs.fields_dict(type(state))
    if "plan" in names:
        return attrs.evolve(state, plan=None)
    if "info" in names and "plan" in attrs.fields_dict(type(state.info)):
        return attrs.evolve(state, info=attrs.evolve(state.info, plan=None))
    return state


def same_state(a: RunState | None, b: RunState | None) -> bool:
    return without_plan(a) == without_plan(b)


def states_of(events: tuple[ev.Event, ...]) -> list[RunState]:
    out: list[RunState] = []
    state: RunState | None = None
    for event in events:
        state = apply(state, event)
        out.append(state)
    return out


def node_phases(state: RunState | None) -> dict[str, tuple[str, str]]:
    if state is None:
        return {}
    return {n.node_id: (n.template_type, n.phase) for n in state.nodes_in_order()}


# --- properties ----------------------------------------------------------------------------


@given(workflows())
def test_generated_documents_are_small_valid_workflows(document: dict[str, JSON]) -> None:
    assert task_count(document) <= 12
    assert nesting_depth(document) <= 3
    load_workflow(document, limits=DEFAULT_LIMITS)  # raises ValidationError on any error


@given(histories())
def test_history_folds_to_the_decided_state(history: History) -> None:
    """The state ``decide`` worked with is the fold of what it recorded, and no decision
    ran into an internal error (SPEC §6.4: a run ends ``engine internal error`` only when
    the engine broke its own phase machine)."""
    folded = fold(history.events)
    assert same_state(folded, history.final)
    assert run_view(folded) == run_view(history.final)
    for event in history.events:
        if isinstance(event, ev.WorkflowCompleted | ev.NodeCompleted):
            assert not event.message.startswith("engine internal error"), event


@given(histories())
def test_fold_is_deterministic_and_replay_reproduces_decisions(history: History) -> None:
    first, second = fold(history.events), fold(history.events)
    assert same_state(first, second)
    assert run_view(first) == run_view(second)
    # ARCHITECTURE rule 2: replaying the inputs through decide gives the same decisions.
    replayed: list[ev.Event] = []
    state: RunState | None = None
    for event in history.events:
        if event.KIND != ev.INPUT:
            continue
        decision = decide(state, plain_input(event))
        replayed.extend(decision.recorded)
        state = decision.state
    assert replayed == list(history.events)


@given(histories(), st.data())
def test_a_viewer_asked_again_and_again_shows_the_view_of_each_state(history: History, data: st.DataObject) -> None:
    """``RunViewer`` reuses the view of every node whose record did not change: asked after
    any of the events (and sometimes twice, or about an earlier state), it shows exactly
    ``run_view`` of the state it is given."""
    viewer = RunViewer()
    states: list[RunState] = []
    state: RunState | None = None
    for event in history.events:
        state = apply(state, event)
        states.append(state)
        if data.draw(st.integers(0, 2), label="ask now") == 0:
            continue
        assert viewer.view(state) == run_view(state)
        if data.draw(st.booleans(), label="ask about an earlier state"):
            earlier = states[data.draw(st.integers(0, len(states) - 1), label="earlier")]
            assert viewer.view(earlier) == run_view(earlier)
    assert state is not None
    assert viewer.view(state) == run_view(state)


@given(histories(), st.data())
def test_fold_prefix_then_rest_equals_fold_all(history: History, data: st.DataObject) -> None:
    events = history.events
    k = data.draw(st.integers(0, len(events)), label="k")
    whole = fold(events)
    split = fold(events[k:], fold(events[:k]))
    assert same_state(split, whole)
    assert run_view(split) == run_view(whole)


@given(histories())
def test_reducers_and_decide_never_mutate_their_input(history: History) -> None:
    state: RunState | None = None
    for event in history.events:
        before = pickle.dumps(without_plan(state))
        view = run_view(state) if state is not None else None
        new_state = apply(state, event)
        assert pickle.dumps(without_plan(state)) == before, f"apply mutated its input on {event.TYPE}"
        if state is not None:
            assert run_view(state) == view
        if event.KIND == ev.INPUT:
            decide(state, plain_input(event))
            assert pickle.dumps(without_plan(state)) == before, f"decide mutated its input on {event.TYPE}"
        state = new_state


@given(histories())
def test_every_phase_change_follows_a_spec_edge(history: History) -> None:
    """Step by step through the fine-grained events the record stands for (SPEC §6.6.1):
    a compact record makes several steps at once, each of which must be an edge."""
    previous: RunState | None = None
    for event in expand_all(history.events):
        state = apply(previous, event)
        before, after = node_phases(previous), node_phases(state)
        changed = []
        assert set(before) <= set(after), "a node disappeared"
        for node_id, (template_type, phase) in after.items():
            if node_id not in before:
                assert isinstance(event, ev.NodeCreated), f"{node_id} appeared on {event.TYPE}"
                assert phase in INITIAL_PHASES, f"{node_id} created {phase}"
                changed.append(node_id)
                continue
            old = before[node_id][1]
            if old != phase:
                assert spec_allows(template_type, old, phase), (
                    f"{event.TYPE}: {node_id} ({template_type}) {old} -> {phase} is not a SPEC §6.4 edge"
                )
                changed.append(node_id)
        assert len(changed) <= 1, f"{event.TYPE} changed several nodes: {changed}"
        if changed:
            assert isinstance(event, PHASE_EVENTS), f"{event.TYPE} changed the phase of {changed}"
        if previous is not None and previous.phase != state.phase:
            assert (previous.phase, state.phase) in SPEC_RUN_EDGES, f"run {previous.phase} -> {state.phase}"
            assert isinstance(event, ev.PhaseChanged | ev.WorkflowCompleted)
        previous = state


def test_library_transition_tables_are_the_spec_tables() -> None:
    """``aether/reducers/phases.py`` lists exactly the edges of SPEC §6.4."""
    assert lib_phases.LEAF_EDGES == SPEC_LEAF_EDGES
    assert lib_phases.CONTAINER_EDGES == SPEC_CONTAINER_EDGES
    assert lib_phases.RUN_EDGES == SPEC_RUN_EDGES
    assert lib_phases.INITIAL_NODE_PHASES == INITIAL_PHASES


@given(histories())
def test_every_event_round_trips_through_the_codec(history: History) -> None:
    for event in history.events:
        pending = encode(event)
        assert pending.type == event.TYPE
        assert decode_raw(pending.type, pending.schema_version, pending.data) == event


# --- illegal moves -------------------------------------------------------------------------


def _any_assignment(node: NodeState, run_id: str, attempt: int) -> TaskAssignment:
    return TaskAssignment(
        id=TaskAssignment.attempt_id(run_id, node.node_id, attempt),
        run_id=run_id,
        node_id=node.node_id,
        attempt=attempt,
        retry_count=node.retry_count,
        workflow_name="prop",
        namespace="default",
        task_name=node.task_name,
        template_name=node.template_name,
        executor_type="test",
    )


def illegal_events(state: RunState) -> list[tuple[str, ev.Event]]:
    """Events that, applied to ``state``, ask for something SPEC §6.4 forbids."""
    out: list[tuple[str, ev.Event]] = []
    for node in state.nodes_in_order():
        nid, phase, kind = node.node_id, node.phase, node.template_type
        for target in ALL_PHASES:
            if spec_allows(kind, phase, target):
                continue
            if target in TERMINAL:
                out.append((f"NodeCompleted {nid} {phase}->{target}", ev.NodeCompleted(nid, phase, target)))
            else:
                out.append((f"PhaseChanged {nid} {phase}->{target}", ev.PhaseChanged(nid, phase, target)))
        # A move that the tables list, but from a phase the node is not in.
        wrong = "Running" if phase != "Running" else "Ready"
        out.append((f"PhaseChanged {nid} from {wrong} (is {phase})", ev.PhaseChanged(nid, wrong, "Suspended")))
        out.append(
            (
                f"NodeCreated {nid} twice",
                ev.NodeCreated(nid, node.parent_id, node.task_name, node.template_name, kind, node.depth),
            )
        )
        if node.terminal:
            out.append((f"PhaseChanged {nid} {phase}->Running", ev.PhaseChanged(nid, phase, "Running")))
            if node.is_leaf:
                out.append(
                    (
                        f"TaskDispatched on terminal {nid}",
                        ev.TaskDispatched(
                            nid, node.attempt + 1, "retry", _any_assignment(node, state.run_id, node.attempt + 1)
                        ),
                    )
                )
        attempt = node.current_attempt
        if attempt is not None:
            out.append(
                (
                    f"TaskResultRecorded {nid} stale attempt",
                    ev.TaskResultRecorded(nid, attempt.number + 1, 0, "Succeeded"),
                )
            )
            if attempt.code is not None:
                out.append(
                    (
                        f"TaskResultRecorded {nid}#{attempt.number} twice",
                        ev.TaskResultRecorded(nid, attempt.number, attempt.code, attempt.phase or "Succeeded"),
                    )
                )
    for target in ("Created", "Ready", "Running", *sorted(TERMINAL)):
        if (state.phase, target) in SPEC_RUN_EDGES:
            continue
        if target in TERMINAL:
            out.append((f"WorkflowCompleted {state.phase}->{target}", ev.WorkflowCompleted(state.phase, target)))
        else:
            out.append((f"run PhaseChanged {state.phase}->{target}", ev.PhaseChanged(None, state.phase, target)))
    out.append(("NodeCreated in phase Running", ev.NodeCreated("zz", None, "zz", "zz", "task", 0, "Running")))
    out.append(("second WorkflowSubmitted", ev.WorkflowSubmitted("1", format_ms(T0_MS), state.document)))
    return out


@given(histories(), st.data())
def test_illegal_moves_raise(history: History, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, len(history.events)), label="prefix")
    state = fold(history.events[:k])
    assert state is not None
    _label, event = data.draw(st.sampled_from(illegal_events(state)), label="injected")
    with pytest.raises(IllegalTransition):
        apply(state, event)


@given(histories(), st.data())
def test_terminal_nodes_never_move(history: History, data: st.DataObject) -> None:
    """SPEC §6.4: terminal phases never change: a second NodeCompleted, a PhaseChanged out
    of a terminal phase, a new attempt or a result on a terminal node all raise."""
    states = states_of(history.events)
    points = [(s, n) for s in states for n in s.nodes_in_order() if n.terminal]
    assume(points)
    state, node = data.draw(st.sampled_from(points))
    target = data.draw(st.sampled_from(sorted(TERMINAL)))
    moves: list[ev.Event] = [
        ev.NodeCompleted(node.node_id, node.phase, target),
        ev.PhaseChanged(node.node_id, node.phase, data.draw(st.sampled_from(["Created", "Ready", "Running"]))),
    ]
    if node.is_leaf:
        moves.append(
            ev.TaskDispatched(
                node.node_id, node.attempt + 1, "retry", _any_assignment(node, state.run_id, node.attempt + 1)
            )
        )
        moves.append(ev.RetryScheduled(node.node_id, node.attempt + 1, node.retry_count + 1, 1000))
    for move in moves:
        with pytest.raises(IllegalTransition):
            apply(state, move)


@given(histories(), st.data())
def test_a_result_recorded_twice_for_one_attempt_raises(history: History, data: st.DataObject) -> None:
    positions = [i for i, e in enumerate(history.events) if isinstance(e, ev.TaskResultRecorded)]
    assume(positions)
    i = data.draw(st.sampled_from(positions))
    state = fold(history.events[: i + 1])
    with pytest.raises(IllegalTransition):
        apply(state, history.events[i])


@given(histories())
def test_a_run_completes_once(history: History) -> None:
    state = history.final
    assume(state.terminal)
    for target in sorted(TERMINAL):
        with pytest.raises(IllegalTransition):
            apply(state, ev.WorkflowCompleted(state.phase, target))
    with pytest.raises(IllegalTransition):
        apply(state, ev.PhaseChanged(None, state.phase, "Running"))


def test_history_must_start_with_submit() -> None:
    with pytest.raises(IllegalTransition):
        apply(None, ev.TaskStarted("main", 1, format_ms(T0_MS)))


# --- regressions: reducer guards that let illegal facts through (reported bugs) -------------

TWO_LEAVES = workflow(
    "p",
    dag(
        "main",
        dag_task("a", executor=executor("test")),
        dag_task("b", executor=executor("test"), dependencies=["a"]),
    ),
)
LOOP_OF_TWO = workflow("p", loop("main", "leaf", items=[1, 2]), task("leaf", executor("test")))


def _submitted(document: dict[str, JSON]) -> RunState:
    return decide(None, submit_event(document)).state


@pytest.mark.parametrize(("document", "node_id"), [(TWO_LEAVES, "main/a"), (LOOP_OF_TWO, "main/loop[0]/leaf")])
def test_node_completed_to_a_non_terminal_phase_raises(document: dict[str, JSON], node_id: str) -> None:
    """SPEC §6.6/§6.4: NodeCompleted records a node reaching its terminal phase; a
    'completion' into Ready (or any non-terminal phase) is not a listed move."""
    state = _submitted(document)
    assert state.node(node_id).phase == "Ready"
    with pytest.raises(IllegalTransition):
        apply(state, ev.NodeCompleted(node_id, "Ready", "Ready"))


def test_retry_without_delay_on_a_terminal_leaf_raises() -> None:
    """SPEC §6.4: a retry moves Running/Suspended/Ready -> Ready; terminal phases never change."""
    state = _submitted(TWO_LEAVES)
    state = decide(state, ev.TaskResultReported("main/a", 1, format_ms(T0_MS), 0)).state
    assert state.node("main/a").phase == "Succeeded"
    with pytest.raises(IllegalTransition):
        apply(state, ev.RetryScheduled("main/a", 2, 1, 0))


def test_result_recorded_on_a_terminal_leaf_raises() -> None:
    """SPEC §7.5/§11.3: a result is recorded only while the node is not terminal; after a
    cancel, late results are InputIgnored. A history that records one anyway is illegal."""
    state = _submitted(LOOP_OF_TWO)
    state = decide(state, ev.CancelRequested(format_ms(T0_MS))).state
    node = state.node("main/loop[0]/leaf")
    assert node.phase == "Cancelled" and node.current_attempt is not None and node.current_attempt.code is None
    with pytest.raises(IllegalTransition):
        apply(state, ev.TaskResultRecorded(node.node_id, 1, 0, "Succeeded"))


@given(histories())
def test_the_suspended_count_equals_the_suspended_leaves(history: History) -> None:
    """The counter ``aether serve --until-idle`` reads instead of scanning every node."""
    state: RunState | None = None
    for event in history.events:
        state = apply(state, event)
        assert state.suspended == sum(1 for node in state.nodes_in_order() if node.phase == "Suspended")
