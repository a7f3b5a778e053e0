"""Compact records (SPEC §6.6.1): a task's happy path is three events, each carrying the
decisions that belong to it; expanding a record gives those decisions back, and folding
a record is folding what it stands for."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from support.documents import dag, dag_task, executor, task, workflow

from aether.events import catalog as ev
from aether.events.compaction import compact_decision, expand, expand_all, is_compact, plain_input
from aether.events.times import format_ms
from aether.reducers.run import apply, fold
from aether.scheduler.decide import decide
from tests.properties.decided_histories import T0_MS, History, histories, submit_event

pytestmark = pytest.mark.spec("6.6", "6.6.1", "7.1", "7.9")

AT = format_ms(T0_MS + 1000)


def _fanout(count: int) -> dict:
    tasks = [dag_task(f"t{i}", "work") for i in range(count)]
    return workflow("fan", dag("main", *tasks), task("work", executor("echo")))


def _decide_all(document: dict) -> list[ev.Event]:
    """Submit, then start and finish every dispatched attempt in order; the records."""
    decision = decide(None, submit_event(document))
    state, records = decision.state, list(decision.recorded)
    queue = [e for e in decision.events if isinstance(e, ev.TaskDispatched)]
    while queue:
        dispatched = queue.pop(0)
        for trigger in (
            ev.TaskStarted(dispatched.node_id, dispatched.attempt, AT, "w"),
            ev.TaskResultReported(dispatched.node_id, dispatched.attempt, AT, 0, "", (), (), "w"),
        ):
            decision = decide(state, trigger)
            state = decision.state
            records += decision.recorded
            queue += [e for e in decision.events if isinstance(e, ev.TaskDispatched)]
    return records


def test_a_task_on_its_happy_path_is_three_events() -> None:
    records = _decide_all(_fanout(50))
    per_task: dict[str, list[str]] = {}
    for event in records:
        node_id = getattr(event, "node_id", None)
        if isinstance(node_id, str) and node_id.startswith("main/"):
            per_task.setdefault(node_id, []).append(event.TYPE)
    assert len(per_task) == 50
    assert {tuple(types) for types in per_task.values()} == {("TaskDispatched", "TaskStarted", "TaskResultReported")}
    final = fold(records)
    assert final is not None and final.phase == "Succeeded"
    assert all(final.node(f"main/t{i}").phase == "Succeeded" for i in range(50))


def test_the_records_stand_for_the_decided_events() -> None:
    """What decide derived, fine-grained, is what the records expand to: same events, and
    for each input its decision in the same order except for a leaf's creation, which
    comes back at the leaf's dispatch."""
    document = _fanout(3)
    decision = decide(None, submit_event(document))
    decided = [submit_event(document), *decision.events]
    expanded = expand_all(decision.recorded)
    assert sorted(map(repr, expanded)) == sorted(map(repr, decided))
    created = [e.node_id for e in expanded if isinstance(e, ev.NodeCreated)]
    assert created == ["main", "main/t0", "main/t1", "main/t2"]


def test_a_start_and_a_result_carry_the_leaf_s_steps() -> None:
    records = _decide_all(_fanout(1))
    started = next(e for e in records if isinstance(e, ev.TaskStarted))
    reported = next(e for e in records if isinstance(e, ev.TaskResultReported))
    assert started.running and is_compact(started)
    assert [e.TYPE for e in expand(started)] == ["TaskStarted", "PhaseChanged"]
    assert reported.recorded is not None and reported.recorded.phase == "Succeeded"
    assert reported.completed is not None and reported.completed.phase == "Succeeded"
    assert [e.TYPE for e in expand(reported)] == ["TaskResultReported", "TaskResultRecorded", "NodeCompleted"]
    assert plain_input(reported) == expand(reported)[0] and not is_compact(plain_input(reported))


def test_compacting_is_idempotent_on_records() -> None:
    records = _decide_all(_fanout(4))
    groups: list[list[ev.Event]] = []
    for event in records:
        if event.KIND == ev.INPUT:
            groups.append([])
        groups[-1].append(event)
    for group in groups:
        again, moved = compact_decision(group[0], group[1:])
        assert again == group and not moved


def test_decisions_carried_by_an_incoming_input_are_never_taken_from_outside() -> None:
    """A report that arrives already carrying a 'recorded result' is decided as the bare
    report: the engine derives every decision itself."""
    document = _fanout(1)
    decision = decide(None, submit_event(document))
    state = decide(decision.state, ev.TaskStarted("main/t0", 1, AT, "w")).state
    honest = ev.TaskResultReported("main/t0", 1, AT, 2, "failed", (), (), "w")
    forged = attrs.evolve(
        honest, recorded=ev.RecordedResult(0, "Succeeded"), completed=ev.Completion("Succeeded"), running=True
    )
    assert decide(state, forged).recorded == decide(state, honest).recorded
    assert decide(state, forged).state.node("main/t0").phase == "Failed"


def test_a_leaf_created_in_a_batch_is_recorded_at_its_dispatch() -> None:
    """§7.9: creation order is the order of the records. A leaf created in the same batch
    as a container before it is recorded after everything settling the container did."""
    document = workflow(
        "nested",
        dag("main", dag_task("x", "inner"), dag_task("y", "work")),
        dag("inner", dag_task("p", "work")),
        task("work", executor("echo")),
    )
    decision = decide(None, submit_event(document))
    assert [n.node_id for n in decision.state.nodes_in_order()] == ["main", "main/x", "main/x/p", "main/y"]
    assert fold(decision.recorded) == decision.state


@given(histories())
def test_every_record_folds_like_the_events_it_stands_for(history: History) -> None:
    """Applying a record equals applying its expansion one event at a time."""
    state = None
    for event in history.events:
        stepwise = state
        for fine in expand(event):
            stepwise = apply(stepwise, fine)
        state = apply(state, event)
        assert stepwise is not None and state is not None
        assert attrs.evolve(stepwise, event_count=state.event_count) == state
