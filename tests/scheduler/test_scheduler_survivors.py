"""Behaviours a fresh seeded mutation sample of the scheduler showed unguarded: an event
that is not a run's input, loop truncation by ``maxIterations``, hooks of a result taken
over by a forked run, and which effects a run can owe."""

from __future__ import annotations

import pytest

from aether.events import catalog as ev
from aether.history.fork import forked_submission
from aether.scheduler.effects import CancelRun, StartRun
from aether.scheduler.outbox import is_outstanding
from tests.scheduler.scheduler_support import DecidedRun, dag, loop, task, workflow

pytestmark = pytest.mark.spec("7.1", "8.1", "11.5", "6.3")


def test_a_decision_fed_back_as_an_input_ends_the_run_in_error() -> None:
    run = DecidedRun(workflow("main", dag("main", [{"name": "a", "template": "work"}]), task("work")))
    decided = run.step(ev.InputIgnored("TaskStarted", "stale-attempt", "main/a", 1))
    assert run.run.phase == "Error"
    completed = [e for e in decided if isinstance(e, ev.WorkflowCompleted)]
    assert completed and "InputIgnored is not an input of a run" in completed[0].message


def test_max_iterations_truncates_the_items_and_records_how_many_there_were() -> None:
    run = DecidedRun(workflow("main", loop("main", "work", items=[1, 2, 3, 4, 5], maxIterations=2), task("work")))
    expanded = run.last(ev.LoopExpanded, "main")
    assert (expanded.count, expanded.items, expanded.truncated_from) == (2, (1, 2), 5)
    created = [e.node_id for e in run.all(ev.NodeCreated) if e.index is not None]
    assert created == ["main/loop[0]/work", "main/loop[1]/work"]


def test_a_result_taken_over_by_a_forked_run_fires_the_task_hooks() -> None:
    hooks = {"onSuccess": {"template": "note"}, "onExit": {"template": "note"}}
    document = workflow(
        "main",
        dag("main", [{"name": "a", "template": "work", "hooks": hooks}, {"name": "b", "template": "work"}]),
        task("work"),
        task("note"),
    )
    origin = DecidedRun(document)
    origin.finish("main/a")
    origin.finish("main/b", code=2)
    assert origin.run.phase == "Failed"
    forked = DecidedRun(document, run_id="run-2")
    submitted = forked_submission(origin.submitted, origin.run, run_id="run-2", at=forked.at, kind="retry")
    forked.state, forked.events = None, []
    forked.step(submitted)
    reused = forked.all(ev.TaskDispatched, "main/a")
    assert [d.reason for d in reused] == ["reuse"]
    fired = [(e.hook_type, e.node_id) for e in forked.all(ev.HookFired)]
    assert ("onSuccess", "main/a") in fired and ("onExit", "main/a") in fired


def test_a_run_never_owes_the_effects_of_a_cron_stream() -> None:
    run = DecidedRun(workflow("main", dag("main", [{"name": "a", "template": "work"}]), task("work")))
    assert is_outstanding(run.run, StartRun("cron:default/c@t", "r", {}, {})) is False
    assert is_outstanding(run.run, CancelRun("r")) is False
