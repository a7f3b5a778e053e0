"""Submit (SPEC §7.2), dispatch of a leaf (§7.4), depth-first settling (§7.1) and the
ordering rules (§7.9), on hand-written histories fed to ``decide``.
"""

from __future__ import annotations

from typing import Any

import pytest

from aether.events import catalog as ev
from tests.scheduler.scheduler_support import T0_MS, DecidedRun, dag, loop, task, workflow

pytestmark = pytest.mark.spec("7.1", "7.2", "7.4", "7.9")

JSON = Any
HOUR_MS = 3_600_000


def created_ids(run: DecidedRun) -> list[str]:
    return [e.node_id for e in run.all(ev.NodeCreated)]


# --- submit (§7.2) --------------------------------------------------------------------------


def test_submit_creates_the_run_and_the_entry_node_and_arms_the_workflow_deadline() -> None:
    run = DecidedRun(workflow("main", task("main")))
    assert created_ids(run) == ["main"]
    entry = run.last(ev.NodeCreated, "main")
    assert (entry.parent_id, entry.template_type, entry.depth, entry.phase) == (None, "task", 0, "Created")
    workflow_timer = run.armed("workflow")
    assert (workflow_timer.purpose, workflow_timer.due_ms) == ("workflow", T0_MS + HOUR_MS)
    # Settling the entry leaf dispatched it: the run went Created -> Ready.
    assert [e.attempt for e in run.all(ev.TaskDispatched, "main")] == [1]
    assert run.run.phase == "Ready"


def test_the_workflow_deadline_follows_spec_timeout() -> None:
    run = DecidedRun(workflow("main", task("main"), timeout="90s"))
    assert run.armed("workflow").due_ms == T0_MS + 90_000


def test_an_entry_dag_is_settled_at_submit_down_to_its_ready_leaves() -> None:
    document = workflow(
        "main",
        dag("main", [{"name": "a", "template": "work"}, {"name": "b", "template": "work", "dependencies": ["a"]}]),
        task("work"),
    )
    run = DecidedRun(document, run_id="r")
    assert created_ids(run) == ["main", "main/a"]
    assert [e.node_id for e in run.all(ev.TaskDispatched)] == ["main/a"]
    assert run.phase("main") == "Ready"


# --- dispatch of a leaf (§7.4) --------------------------------------------------------------


def test_a_dispatch_records_the_assignment_and_makes_the_leaf_its_ancestors_and_the_run_ready() -> None:
    document = workflow(
        "main",
        dag("main", [{"name": "outer", "template": "inner"}]),
        dag("inner", [{"name": "leaf", "template": "work", "arguments": {"parameters": [{"name": "x", "value": 3}]}}]),
        task("work", inputs={"parameters": [{"name": "x"}]}, executor={"type": "echo", "config": {"k": "v"}}),
    )
    run = DecidedRun(document, run_id="r")
    dispatched = run.last(ev.TaskDispatched, "main/outer/leaf")
    assignment = dispatched.assignment
    assert (dispatched.attempt, dispatched.reason) == (1, "initial")
    assert (assignment.id, assignment.attempt, assignment.retry_count) == ("r:main/outer/leaf#1", 1, 0)
    assert (assignment.executor_type, assignment.executor_config) == ("echo", {"k": "v"})
    assert (assignment.task_name, assignment.template_name) == ("leaf", "work")
    assert [(p.name, p.value) for p in assignment.inputs] == [("x", 3)]
    assert [run.phase(n) for n in ("main", "main/outer", "main/outer/leaf")] == ["Ready", "Ready", "Ready"]
    assert run.run.phase == "Ready"


def test_an_inline_node_is_its_own_definition() -> None:
    site = {"name": "a", "executor": {"type": "shell", "config": {"command": "true"}}}
    run = DecidedRun(workflow("main", dag("main", [site])))
    assignment = run.last(ev.TaskDispatched, "main/a").assignment
    assert (assignment.executor_type, assignment.template_name) == ("shell", "")


def test_a_definition_without_executor_ends_in_error_fires_its_hooks_and_the_walk_goes_on() -> None:
    hooks = {"onError": {"template": "notify"}, "onExit": {"template": "notify"}, "onSuccess": {"template": "notify"}}
    document = workflow(
        "main",
        dag("main", [{"name": "a", "template": "bare", "hooks": hooks}]),
        {"task": {"name": "bare"}},
        task("notify"),
    )
    run = DecidedRun(document)
    completed = run.completed("main/a")
    assert (completed.from_phase, completed.phase, completed.message) == (
        "Created",
        "Error",
        "task definition has no executor",
    )
    assert not run.all(ev.TaskDispatched)
    assert [h.hook_type for h in run.all(ev.HookFired) if h.scope == "task"] == ["onError", "onExit"]
    assert run.completed("main").phase == "Error"
    assert run.run.phase == "Error"


# --- settling depth-first (§7.1) and ordering (§7.9) -----------------------------------------


def test_a_child_container_is_settled_completely_before_its_next_sibling() -> None:
    document = workflow(
        "main",
        dag("main", [{"name": "x", "template": "inner"}, {"name": "y", "template": "work"}]),
        dag("inner", [{"name": "p", "template": "work"}, {"name": "q", "template": "work"}]),
        task("work"),
    )
    run = DecidedRun(document)
    # y is created in main's batch with x, but a leaf's creation is recorded by its
    # dispatch (§6.6.1), after everything settling x did: creation order is record order.
    assert created_ids(run) == ["main", "main/x", "main/x/p", "main/x/q", "main/y"]
    assert [e.node_id for e in run.all(ev.TaskDispatched)] == ["main/x/p", "main/x/q", "main/y"]


def test_a_dag_batch_records_its_skipped_nodes_first_then_the_created_ones_in_declaration_order() -> None:
    tasks = [
        {"name": "a", "template": "work"},
        {"name": "s1", "template": "work", "when": "false"},
        {"name": "b", "template": "work"},
        {"name": "s2", "template": "work", "when": "1 == 2"},
        {"name": "c", "template": "work"},
    ]
    run = DecidedRun(workflow("main", dag("main", tasks), task("work")))
    batch = [(e.node_id, e.phase) for e in run.all(ev.NodeCreated) if e.parent_id == "main"]
    assert batch == [
        ("main/s1", "Skipped"),
        ("main/s2", "Skipped"),
        ("main/a", "Created"),
        ("main/b", "Created"),
        ("main/c", "Created"),
    ]
    assert [e.node_id for e in run.all(ev.TaskDispatched)] == ["main/a", "main/b", "main/c"]


def test_iterations_are_created_in_index_order() -> None:
    run = DecidedRun(workflow("main", loop("main", "work", items=["x", "y", "z"]), task("work")))
    assert created_ids(run) == ["main", "main/loop[0]/work", "main/loop[1]/work", "main/loop[2]/work"]
    assert [e.index for e in run.all(ev.NodeCreated)][1:] == [0, 1, 2]


def test_cancel_ends_nodes_in_creation_order() -> None:
    document = workflow(
        "main",
        dag("main", [{"name": "x", "template": "inner"}, {"name": "y", "template": "work"}]),
        dag("inner", [{"name": "p", "template": "work"}]),
        task("work"),
    )
    run = DecidedRun(document)
    run.step(ev.CancelRequested(run.at))
    cancelled = [e.node_id for e in run.all(ev.NodeCompleted) if e.phase == "Cancelled"]
    assert cancelled == created_ids(run)


def test_for_one_node_the_phase_hook_fires_before_on_exit() -> None:
    hooks = {"onExit": {"template": "notify"}, "onFailure": {"template": "notify"}}
    run = DecidedRun(
        workflow("main", dag("main", [{"name": "a", "template": "work", "hooks": hooks}]), task("work"), task("notify"))
    )
    run.finish("main/a", 2)
    assert [h.hook_type for h in run.all(ev.HookFired) if h.scope == "task"] == ["onFailure", "onExit"]
