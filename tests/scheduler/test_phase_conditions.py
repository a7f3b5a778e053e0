"""phaseConditions at run time (SPEC §6.5): the base phase from the exec code, then
``succeeded``, ``failed``, ``error`` in that order, the first true one winning, for
leaves (§6.5.1), DAGs (§6.5.2) and loops (§6.5.3), each with its own context (§5.8).

Most cases are hand-written histories fed to ``decide``; the last three run the real
engine end to end with the ``echo`` executor.
"""

from __future__ import annotations

from typing import Any

import pytest

from aether.events import catalog as ev
from aether.reducers.run import apply
from aether.store.memory import InMemoryEventLog
from tests.history.history_support import Driver
from tests.scheduler.scheduler_support import DecidedRun, dag, loop, outputs_of, param, task, workflow

pytestmark = pytest.mark.spec("6.5", "6.5.1", "6.5.2", "6.5.3", "5.8", "7.5", "7.6")

JSON = Any
TRUE, FALSE = "true", "false"


def leaf_run(codes: dict[str, str] | None = None, **task_fields: JSON) -> DecidedRun:
    """The entry node is a task; its template carries ``codes`` as phaseConditions."""
    fields = dict(task_fields)
    if codes is not None:
        fields["phaseConditions"] = codes
    return DecidedRun(workflow("main", task("main", **fields)))


# --- leaves (§6.5.1) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "phase"),
    [(0, "Succeeded"), (2, "Failed"), (3, "Error"), (4, "Timeout"), (5, "Error"), (-1, "Error")],
)
def test_without_conditions_the_code_gives_the_phase(code: int, phase: str) -> None:
    run = leaf_run()
    run.finish("main", code, "m")
    assert run.recorded("main").phase == phase
    assert run.completed("main").phase == phase


def test_code_one_without_conditions_suspends() -> None:
    run = leaf_run()
    run.finish("main", 1, "waiting")
    assert run.recorded("main").phase == "Suspended"
    assert run.phase("main") == "Suspended"
    assert not run.all(ev.NodeCompleted, "main")


@pytest.mark.parametrize(
    ("target", "code", "expected"),
    [
        ("succeeded", 2, "Succeeded"),
        ("succeeded", 3, "Succeeded"),
        ("failed", 0, "Failed"),
        ("failed", 3, "Failed"),
        ("error", 0, "Error"),
        ("error", 2, "Error"),
    ],
)
def test_a_true_condition_overrides_the_base_phase(target: str, code: int, expected: str) -> None:
    run = leaf_run({target: TRUE})
    run.finish("main", code, "reported")
    assert run.recorded("main").phase == expected
    assert run.recorded("main").code == code, "the recorded code stays the reported one"
    completed = run.completed("main")
    assert (completed.phase, completed.message) == (expected, "reported")


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ({"succeeded": TRUE, "failed": TRUE, "error": TRUE}, "Succeeded"),
        ({"succeeded": FALSE, "failed": TRUE, "error": TRUE}, "Failed"),
        ({"succeeded": FALSE, "failed": FALSE, "error": TRUE}, "Error"),
        ({"failed": TRUE, "error": TRUE}, "Failed"),
        ({"succeeded": TRUE, "error": TRUE}, "Succeeded"),
        ({"error": TRUE, "succeeded": TRUE, "failed": TRUE}, "Succeeded"),  # key order does not matter
    ],
)
def test_conditions_are_evaluated_succeeded_then_failed_then_error(codes: dict[str, str], expected: str) -> None:
    run = leaf_run(codes)
    run.finish("main", 4, "slow")  # base Timeout: every candidate differs from it
    assert run.recorded("main").phase == expected


@pytest.mark.parametrize(("code", "base"), [(0, "Succeeded"), (2, "Failed"), (3, "Error"), (4, "Timeout")])
def test_when_no_condition_is_true_the_base_phase_stands(code: int, base: str) -> None:
    run = leaf_run({"succeeded": FALSE, "failed": "code == 99", "error": "phase == 'Nope'"})
    run.finish("main", code)
    assert run.recorded("main").phase == base
    assert run.completed("main").phase == base


def test_a_false_condition_never_wins_even_when_it_is_the_only_one() -> None:
    for target in ("succeeded", "failed", "error"):
        run = leaf_run({target: FALSE})
        run.finish("main", 4)
        assert run.recorded("main").phase == "Timeout", target


def test_a_string_true_counts_as_true_and_other_strings_as_false() -> None:
    run = leaf_run({"succeeded": "msg", "failed": "outputs.parameters.verdict"})
    run.start("main")
    run.report("main", 3, "not true", [param("verdict", "true")])
    assert run.recorded("main").phase == "Failed"


def test_a_failing_condition_counts_as_false_and_is_recorded_as_a_warning() -> None:
    run = leaf_run({"succeeded": "1 / 0 == 1", "error": TRUE})
    run.finish("main", 0)
    recorded = run.recorded("main")
    assert recorded.phase == "Error"
    assert any(w.startswith("phaseConditions.succeeded:") and "E-EXPR-DIV-ZERO" in w for w in recorded.warnings)
    assert run.completed("main").warnings == recorded.warnings


def test_a_non_boolean_condition_is_an_error_not_a_truthy_value() -> None:
    run = leaf_run({"succeeded": "code + 1"})
    run.finish("main", 2)
    assert run.recorded("main").phase == "Failed"
    assert any("E-EXPR-NOT-BOOLEAN" in w for w in run.recorded("main").warnings)


def test_the_leaf_context_is_phase_code_msg_raw_outputs_and_own_inputs() -> None:
    codes = {
        "succeeded": (
            "phase == 'Failed' && code == 2 && msg == 'quota: 3 left'"
            " && outputs.parameters.left == 3 && outputs.parameters.undeclared == 'raw'"
            " && inputs.parameters.limit == 5"
        )
    }
    run = leaf_run(
        codes,
        inputs={"parameters": [{"name": "limit", "value": 5}]},
        outputs={"parameters": [{"name": "left"}]},
    )
    run.start("main")
    run.report("main", 2, "quota: 3 left", [param("left", 3), param("undeclared", "raw")])
    recorded = run.recorded("main")
    assert recorded.phase == "Succeeded", recorded.warnings
    assert outputs_of(recorded) == {"left": 3}, "the declaration still filters the node's outputs"


def test_conditions_override_suspended() -> None:
    run = leaf_run({"succeeded": "phase == 'Suspended' && code == 1"})
    run.finish("main", 1, "waiting")
    assert run.recorded("main").phase == "Succeeded"
    assert run.completed("main").phase == "Succeeded"
    assert not any(h.hook_type == "onSuspend" for h in run.all(ev.HookFired))
    assert run.run.phase == "Succeeded"


def test_a_condition_can_keep_a_result_from_suspending_as_failed() -> None:
    run = leaf_run({"failed": "phase == 'Suspended'"})
    run.finish("main", 1, "waiting")
    assert run.phase("main") == "Failed"


def test_conditions_override_a_reported_timeout() -> None:
    run = leaf_run({"error": "phase == 'Timeout' && code == 4"})
    run.finish("main", 4, "worker gave up")
    assert run.recorded("main").phase == "Error"
    assert not run.recorded("main").synthetic


def test_conditions_override_a_deadline_and_see_its_synthetic_code_four() -> None:
    run = leaf_run(
        {"succeeded": "phase == 'Timeout' && code == 4 && msg == 'task deadline exceeded'"},
        timeout="10s",
    )
    run.start("main")
    run.fire("task:main:0")
    recorded = run.recorded("main")
    assert (recorded.code, recorded.phase, recorded.synthetic) == (4, "Succeeded", True)
    assert run.completed("main").phase == "Succeeded"
    assert run.run.phase == "Succeeded"


def test_conditions_override_a_deadline_on_a_suspended_node() -> None:
    run = leaf_run({"failed": "code == 4"}, timeout="10s")
    run.finish("main", 1, "waiting")
    assert run.phase("main") == "Suspended"
    run.fire("task:main:0")
    assert run.completed("main").phase == "Failed"


def retrying_dag(codes: dict[str, str], retry: dict[str, JSON] | None = None) -> DecidedRun:
    site: dict[str, JSON] = {"name": "a", "template": "work"}
    if retry is not None:
        site["retry"] = retry
    return DecidedRun(workflow("main", dag("main", [site]), task("work", phaseConditions=codes)))


def test_the_retry_decision_sees_the_phase_after_conditions() -> None:
    turned_into_error = retrying_dag({"error": "code == 0"}, {"limit": 1})
    turned_into_error.finish("main/a", 0)
    assert turned_into_error.last(ev.RetryScheduled, "main/a").next_attempt == 2

    rescued = retrying_dag({"succeeded": "code == 3"}, {"limit": 1})
    rescued.finish("main/a", 3)
    assert not rescued.all(ev.RetryScheduled)
    assert rescued.completed("main/a").phase == "Succeeded"


def test_the_hooks_fire_for_the_phase_after_conditions() -> None:
    document = workflow(
        "main",
        dag(
            "main",
            [
                {
                    "name": "a",
                    "template": "work",
                    "hooks": {"onSuccess": {"template": "notify"}, "onFailure": {"template": "notify"}},
                }
            ],
        ),
        task("work", phaseConditions={"succeeded": "code == 2"}),
        task("notify"),
    )
    run = DecidedRun(document)
    run.finish("main/a", 2)
    fired = [h.hook_type for h in run.all(ev.HookFired) if h.scope == "task"]
    assert "onSuccess" in fired
    assert "onFailure" not in fired


def test_an_inline_dag_task_uses_its_own_conditions() -> None:
    site = {"name": "a", "executor": {"type": "echo"}, "phaseConditions": {"failed": "code == 0"}}
    run = DecidedRun(workflow("main", dag("main", [site])))
    run.finish("main/a", 0)
    assert run.completed("main/a").phase == "Failed"


# --- DAGs (§6.5.2) --------------------------------------------------------------------------


def dag_run(codes: dict[str, str], *, tasks: list[dict[str, JSON]] | None = None, **fields: JSON) -> DecidedRun:
    sites = tasks or [{"name": "a", "template": "work"}, {"name": "b", "template": "work"}]
    return DecidedRun(workflow("main", dag("main", sites, phaseConditions=codes, **fields), task("work")))


@pytest.mark.parametrize(
    ("target", "codes_of_children", "aggregated_message", "expected"),
    [
        ("succeeded", (0, 2), "one or more tasks failed", "Succeeded"),
        ("succeeded", (3, 2), "one or more tasks errored", "Succeeded"),
        ("failed", (0, 0), "", "Failed"),
        ("failed", (3, 0), "one or more tasks errored", "Failed"),
        ("error", (0, 0), "", "Error"),
        ("error", (2, 0), "one or more tasks failed", "Error"),
    ],
)
def test_a_dag_condition_overrides_the_aggregated_phase_and_keeps_its_message(
    target: str, codes_of_children: tuple[int, int], aggregated_message: str, expected: str
) -> None:
    run = dag_run({target: TRUE})
    run.finish("main/a", codes_of_children[0], "child a")
    assert not run.all(ev.NodeCompleted, "main"), "the DAG must wait for every child"
    run.finish("main/b", codes_of_children[1], "child b")
    completed = run.completed("main")
    assert (completed.phase, completed.message) == (expected, aggregated_message)


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ({"succeeded": TRUE, "failed": TRUE, "error": TRUE}, "Succeeded"),
        ({"succeeded": FALSE, "failed": TRUE, "error": TRUE}, "Failed"),
        ({"succeeded": FALSE, "failed": FALSE, "error": TRUE}, "Error"),
        ({"succeeded": FALSE, "failed": FALSE, "error": FALSE}, "Error"),  # the aggregation stands
    ],
)
def test_dag_conditions_are_evaluated_in_order(codes: dict[str, str], expected: str) -> None:
    run = dag_run(codes)
    run.finish("main/a", 3)
    run.finish("main/b", 0)
    assert run.completed("main").phase == expected


def test_the_dag_context_is_aggregated_phase_and_msg_children_outputs_and_inputs() -> None:
    codes = {
        "succeeded": (
            "phase == 'Failed' && msg == 'one or more tasks failed'"
            " && tasks.a.phase == 'Failed' && tasks.b.outputs.parameters.n == 7"
            " && outputs.parameters.total == 7 && inputs.parameters.expected == 7"
        )
    }
    run = dag_run(
        codes,
        inputs={"parameters": [{"name": "expected", "value": 7}]},
        outputs={"parameters": [{"name": "total", "valueFrom": {"expression": "tasks.b.outputs.parameters.n"}}]},
    )
    run.finish("main/a", 2)
    run.finish("main/b", 0, n=7)
    completed = run.completed("main")
    assert completed.phase == "Succeeded", completed.warnings
    assert outputs_of(completed) == {"total": 7}


def test_dag_conditions_run_after_aggregation_not_per_child() -> None:
    # ``phase`` is the aggregation over both children, not the last child's phase.
    run = dag_run({"failed": "phase == 'Succeeded'"})
    run.finish("main/a", 2)
    run.finish("main/b", 0)
    assert run.completed("main").phase == "Failed"
    assert run.completed("main").message == "one or more tasks failed"


def test_a_failing_dag_condition_is_false_with_a_warning() -> None:
    run = dag_run({"succeeded": "tasks.a.outputs.parameters['x'] == 1"})
    run.finish("main/a", 2)
    run.finish("main/b", 0)
    completed = run.completed("main")
    assert completed.phase == "Failed"
    assert any(w.startswith("phaseConditions.succeeded:") for w in completed.warnings)


def test_dag_conditions_are_not_applied_when_the_aggregated_phase_is_cancelled() -> None:
    # No input cancels one child while its DAG lives on (cancel ends the whole run in one
    # decision), so the history is written by hand: child ``a`` was recorded Cancelled.
    run = dag_run({"succeeded": TRUE, "failed": TRUE, "error": TRUE})
    run.start("main/a")
    run.state = apply(run.state, ev.NodeCompleted("main/a", "Running", "Cancelled", "cancelled by user"))
    run.finish("main/b", 0)
    completed = run.completed("main")
    assert (completed.phase, completed.message) == ("Cancelled", "one or more tasks were cancelled")


def test_dag_conditions_apply_to_a_dag_with_no_runnable_tasks() -> None:
    run = dag_run({"failed": "msg == 'no runnable tasks' && phase == 'Succeeded'"}, entrypoints=[])
    completed = run.completed("main")
    assert (completed.phase, completed.message) == ("Failed", "no runnable tasks")


# --- loops (§6.5.3) -------------------------------------------------------------------------


BODY = "main/loop[{}]/body"


def loop_run(codes: dict[str, str], items: list[JSON], **fields: JSON) -> DecidedRun:
    return DecidedRun(
        workflow("main", loop("main", "body", items=items, phaseConditions=codes, **fields), task("body"))
    )


@pytest.mark.parametrize(
    ("target", "codes", "aggregated", "expected"),
    [
        ("succeeded", (0, 2), ("Failed", "one or more tasks failed"), "Succeeded"),
        ("failed", (0, 0), ("Succeeded", ""), "Failed"),
        ("error", (0, 2), ("Failed", "one or more tasks failed"), "Error"),
    ],
)
def test_a_loop_condition_overrides_the_aggregated_phase_and_keeps_its_message(
    target: str, codes: tuple[int, int], aggregated: tuple[str, str], expected: str
) -> None:
    run = loop_run({target: TRUE}, [0, 1])
    run.finish(BODY.format(0), codes[0])
    run.finish(BODY.format(1), codes[1])
    completed = run.completed("main")
    assert (completed.phase, completed.message) == (expected, aggregated[1])


def test_loop_conditions_are_evaluated_in_order() -> None:
    run = loop_run({"error": TRUE, "failed": TRUE, "succeeded": "phase == 'Error'"}, [0])
    run.finish(BODY.format(0), 3)
    assert run.completed("main").phase == "Succeeded"
    run = loop_run({"succeeded": FALSE, "error": TRUE, "failed": TRUE}, [0])
    run.finish(BODY.format(0), 3)
    assert run.completed("main").phase == "Failed"
    run = loop_run({"succeeded": FALSE, "failed": FALSE}, [0])
    run.finish(BODY.format(0), 3)
    assert run.completed("main").phase == "Error"


# Four iterations in index order: Succeeded, Failed, Timeout, and a last one whose outcome
# each case chooses. Each expression is the loop's ``succeeded`` condition; the loop's own
# phase would be Error, so Succeeded means the expression saw exactly these values.
@pytest.mark.parametrize(
    ("last_code", "expression"),
    [
        (2, "loop.count == 4"),
        (2, "loop.succeeded == 1"),
        (2, "loop.failed == 2"),  # the last iteration's failure is counted
        (0, "loop.failed == 1 && loop.succeeded == 2"),
        (3, "loop.errored == 2"),  # Error and Timeout both count as errored
        (4, "loop.errored == 2 && loop.failed == 1"),
        (2, "tasks.body.phase == 'Failed' && tasks.body.msg == 'last'"),  # the last iteration
        (0, "tasks.body.outputs.parameters.i == 3"),
        (2, "phase == 'Error' && msg == 'one or more tasks errored'"),
    ],
)
def test_the_loop_context_counts_iterations_and_shows_the_last_one(last_code: int, expression: str) -> None:
    run = loop_run({"succeeded": expression}, [0, 1, 2, 3])
    run.finish(BODY.format(0), 0, "first", i=0)
    run.finish(BODY.format(1), 2, "second")
    run.finish(BODY.format(2), 4, "third")
    assert not run.all(ev.NodeCompleted, "main")
    run.finish(BODY.format(3), last_code, "last", i=3)
    completed = run.completed("main")
    assert completed.phase == "Succeeded", (expression, completed.warnings)


def test_the_last_iteration_is_the_highest_index_even_if_it_finished_first() -> None:
    run = loop_run({"succeeded": "tasks.body.outputs.parameters.i == 1 && loop.failed == 1"}, [0, 1])
    run.finish(BODY.format(1), 0, i=1)
    run.finish(BODY.format(0), 2, i=0)
    assert run.completed("main").phase == "Succeeded", run.completed("main").warnings


def test_the_loop_context_has_aggregated_outputs_and_the_loop_inputs() -> None:
    codes = {"failed": "outputs.parameters.i == [0, 1] && inputs.parameters.want == 2"}
    run = loop_run(
        codes,
        [0, 1],
        aggregate={"strategy": "list"},
        inputs={"parameters": [{"name": "want", "value": 2}]},
    )
    run.finish(BODY.format(0), 0, i=0)
    run.finish(BODY.format(1), 0, i=1)
    completed = run.completed("main")
    assert completed.phase == "Failed", completed.warnings
    assert outputs_of(completed) == {"i": [0, 1]}


def test_a_repeat_loop_counts_every_iteration_it_created() -> None:
    run = DecidedRun(
        workflow(
            "main",
            loop(
                "main",
                "body",
                repeatCondition="loop_iter.index < 2",
                maxIterations=10,
                phaseConditions={"succeeded": "loop.count == 3 && loop.failed == 1 && tasks.body.phase == 'Failed'"},
            ),
            task("body"),
        )
    )
    run.finish(BODY.format(0), 0)
    run.finish(BODY.format(1), 0)
    run.finish(BODY.format(2), 2)
    assert run.completed("main").phase == "Succeeded", run.completed("main").warnings


def test_loop_conditions_are_not_applied_when_the_aggregated_phase_is_cancelled() -> None:
    run = loop_run({"succeeded": TRUE}, [0, 1])
    run.start(BODY.format(0))
    run.state = apply(run.state, ev.NodeCompleted(BODY.format(0), "Running", "Cancelled", "cancelled by user"))
    run.finish(BODY.format(1), 0)
    assert run.completed("main").phase == "Cancelled"


def test_a_failing_loop_condition_is_false_with_a_warning() -> None:
    run = loop_run({"succeeded": "loop.count / 0 == 1"}, [0])
    run.finish(BODY.format(0), 2)
    completed = run.completed("main")
    assert completed.phase == "Failed"
    assert any("E-EXPR-DIV-ZERO" in w for w in completed.warnings)


# --- end to end -----------------------------------------------------------------------------


def engine_run(document: dict[str, JSON]) -> tuple[Driver, str]:
    driver = Driver(InMemoryEventLog())
    run_id = driver.run(document)
    return driver, run_id


def node_phase(driver: Driver, run_id: str, node_id: str) -> str:
    return driver.engine.get_state(run_id).node(node_id).phase


def test_end_to_end_a_task_condition_turns_a_failure_into_success() -> None:
    document = workflow(
        "main",
        task(
            "main",
            inputs={"parameters": [{"name": "fail-count", "value": 1}]},
            phaseConditions={"succeeded": "code == 2 && startsWith(msg, 'simulated failure')"},
        ),
    )
    driver, run_id = engine_run(document)
    assert node_phase(driver, run_id, "main") == "Succeeded"
    assert driver.engine.get_state(run_id).phase == "Succeeded"


def test_end_to_end_a_dag_condition_accepts_a_failed_child() -> None:
    document = workflow(
        "main",
        dag(
            "main",
            [
                {
                    "name": "flaky",
                    "template": "work",
                    "arguments": {"parameters": [{"name": "fail-count", "value": 1}]},
                },
                {"name": "steady", "template": "work"},
            ],
            phaseConditions={"succeeded": "tasks.flaky.phase == 'Failed' && tasks.steady.phase == 'Succeeded'"},
        ),
        task("work", inputs={"parameters": [{"name": "fail-count", "value": 0}]}),
    )
    driver, run_id = engine_run(document)
    assert node_phase(driver, run_id, "main/flaky") == "Failed"
    assert node_phase(driver, run_id, "main") == "Succeeded"
    assert driver.engine.get_state(run_id).phase == "Succeeded"


def test_end_to_end_a_loop_condition_sees_the_failures_including_the_last_iteration() -> None:
    document = workflow(
        "main",
        loop(
            "main",
            "work",
            items=[0, 1, 1],
            arguments={"parameters": [{"name": "fail-count", "value": "{{loop_iter.item}}"}]},
            phaseConditions={"succeeded": "loop.count == 3 && loop.failed == 2 && tasks.work.phase == 'Failed'"},
        ),
        task("work", inputs={"parameters": [{"name": "fail-count", "value": 0}]}),
    )
    driver, run_id = engine_run(document)
    phases = [node_phase(driver, run_id, f"main/loop[{i}]/work") for i in range(3)]
    assert phases == ["Succeeded", "Failed", "Failed"]
    assert node_phase(driver, run_id, "main") == "Succeeded"
    assert driver.engine.get_state(run_id).phase == "Succeeded"


# --- globals (§5.8: every phaseConditions context sees them) ---------------------------------

GLOBALS = "workflow.name == 'wf' && workflow.runId == 'run-1' && workflow.parameters.level == 2"


def with_level(document: dict[str, JSON]) -> dict[str, JSON]:
    document["spec"]["arguments"] = {"parameters": [{"name": "level", "value": 2}]}
    return document


def test_every_condition_context_sees_the_globals() -> None:
    leaf = DecidedRun(with_level(workflow("main", task("main", phaseConditions={"failed": GLOBALS}))))
    leaf.finish("main", 0)
    assert leaf.completed("main").phase == "Failed", leaf.completed("main").warnings

    graph = DecidedRun(
        with_level(
            workflow(
                "main", dag("main", [{"name": "a", "template": "w"}], phaseConditions={"failed": GLOBALS}), task("w")
            )
        )
    )
    graph.finish("main/a", 0)
    assert graph.completed("main").phase == "Failed", graph.completed("main").warnings

    iterations = DecidedRun(
        with_level(workflow("main", loop("main", "body", items=[0], phaseConditions={"failed": GLOBALS}), task("body")))
    )
    iterations.finish(BODY.format(0), 0)
    assert iterations.completed("main").phase == "Failed", iterations.completed("main").warnings
