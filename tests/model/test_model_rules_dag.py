"""DAG templates and DAG tasks (SPEC §2.5.1, §2.5.2, §3.3.4)."""

from __future__ import annotations

from typing import Any

import pytest
from model_helpers import add_template, codes, dag, load_changed, tasks, the

from aether.model import Limits

pytestmark = pytest.mark.spec("2.5.1", "2.5.2", "3.3.4")

DAG = "$.spec.templates[0].dag"
T = 'template "main": '


def task(name: str, *deps: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "template": "work", **extra}
    if deps:
        out["dependencies"] = list(deps)
    return out


def with_tasks(*items: dict[str, Any]) -> Any:
    return load_changed(lambda d: dag(d).update(tasks=list(items)))


def test_tasks_empty() -> None:
    result = with_tasks()
    assert codes(result) == [("E-DAG-TASKS-EMPTY", f"{DAG}.tasks")]
    assert the(result, "E-DAG-TASKS-EMPTY").message == T + "dag.tasks must not be empty"
    assert codes(load_changed(lambda d: dag(d).pop("tasks"))) == [("E-DAG-TASKS-EMPTY", f"{DAG}.tasks")]


def test_tasks_limit() -> None:
    result = load_changed(lambda d: None, limits=Limits(tasks_per_dag=1))
    assert codes(result) == [("E-DAG-TASKS-LIMIT", f"{DAG}.tasks")]
    assert the(result, "E-DAG-TASKS-LIMIT").message == T + "2 tasks; the limit is 1"


def test_task_name_duplicate() -> None:
    result = with_tasks(task("a"), task("b"), task("a"))
    assert codes(result) == [("E-TASK-NAME-DUPLICATE", f"{DAG}.tasks[2].name")]
    assert the(result, "E-TASK-NAME-DUPLICATE").message == T + 'duplicate task name "a"'


def test_dependency_unknown() -> None:
    result = with_tasks(task("a"), task("b", "a", "zz"))
    assert codes(result) == [("E-DEP-UNKNOWN", f"{DAG}.tasks[1].dependencies[1]")]
    assert the(result, "E-DEP-UNKNOWN").message == T + 'task "b" depends on unknown task "zz"'


def test_dependency_duplicate() -> None:
    result = with_tasks(task("a"), task("b", "a", "a"))
    assert codes(result) == [("W-DEP-DUPLICATE", f"{DAG}.tasks[1].dependencies[1]")]
    assert the(result, "W-DEP-DUPLICATE").message == T + 'task "b" lists dependency "a" twice'


def test_cycle_message_and_order() -> None:
    result = with_tasks(task("a", "c"), task("b", "a"), task("c", "b"))
    assert codes(result) == [("E-DAG-CYCLE", f"{DAG}.tasks")]
    assert the(result, "E-DAG-CYCLE").message == T + "dag contains a cycle: a -> c -> b -> a"


def test_first_cycle_found_in_declaration_order() -> None:
    result = with_tasks(task("x"), task("p", "q"), task("q", "p"), task("a", "b"), task("b", "a"))
    assert the(result, "E-DAG-CYCLE").message == T + "dag contains a cycle: p -> q -> p"


def test_self_dependency_is_a_cycle() -> None:
    result = with_tasks(task("a", "a"))
    assert the(result, "E-DAG-CYCLE").message == T + "dag contains a cycle: a -> a"


def test_cycle_check_ignores_unknown_dependencies() -> None:
    result = with_tasks(task("a", "ghost"), task("b", "a"))
    assert codes(result) == [("E-DEP-UNKNOWN", f"{DAG}.tasks[0].dependencies[0]")]


def test_long_chain_needs_no_recursion() -> None:
    items = [task("t0")] + [task(f"t{i}", f"t{i - 1}") for i in range(1, 3000)]
    items[0]["dependencies"] = ["t2999"]
    result = with_tasks(*items)
    assert the(result, "E-DAG-CYCLE").message.startswith(T + "dag contains a cycle: t0 -> t2999 -> t2998")


def test_task_target_required() -> None:
    result = with_tasks({"name": "a"})
    assert codes(result) == [("E-TASK-TARGET-REQUIRED", f"{DAG}.tasks[0]")]
    assert the(result, "E-TASK-TARGET-REQUIRED").message == T + 'task "a": either template or executor is required'


def test_template_unknown() -> None:
    result = with_tasks({"name": "a", "template": "nope"})
    assert codes(result) == [("E-TEMPLATE-UNKNOWN", f"{DAG}.tasks[0].template")]
    assert the(result, "E-TEMPLATE-UNKNOWN").message == T + 'task "a" references unknown template "nope"'


def test_template_and_ref_exclusive() -> None:
    result = with_tasks({"name": "a", "template": "work", "templateRef": {"name": "lib", "template": "x"}})
    assert codes(result) == [("E-TASK-TEMPLATE-AND-REF", f"{DAG}.tasks[0]")]
    assert the(result, "E-TASK-TEMPLATE-AND-REF").message == (
        T + 'task "a": template and templateRef are mutually exclusive'
    )


def test_template_and_executor() -> None:
    result = with_tasks({"name": "a", "template": "work", "executor": {"type": "echo"}})
    assert codes(result) == [("W-TASK-TEMPLATE-AND-EXECUTOR", f"{DAG}.tasks[0].executor")]
    assert the(result, "W-TASK-TEMPLATE-AND-EXECUTOR").message == (
        T + 'task "a": executor is ignored because template is set'
    )


def test_phase_conditions_on_task_template_call_site() -> None:
    result = with_tasks(task("a", phaseConditions={"failed": "code == 3"}))
    assert codes(result) == [("E-PHASECOND-CALLSITE", f"{DAG}.tasks[0].phaseConditions")]
    assert the(result, "E-PHASECOND-CALLSITE").message == T + (
        'task "a": phaseConditions is not allowed on a task template call site; '
        'declare it on task template "work" instead'
    )


def test_phase_conditions_on_container_call_site() -> None:
    def change(d: dict) -> None:
        add_template(d, {"dag": {"name": "inner", "tasks": [{"name": "x", "template": "work"}]}})
        tasks(d)[0].update(template="inner", phaseConditions={"succeeded": "true"})

    result = load_changed(change)
    assert the(result, "E-PHASECOND-CALLSITE").message == T + (
        'task "a": phaseConditions is not allowed when template "inner" resolves to a dag; '
        'declare phaseConditions on the dag template "inner" instead'
    )


def test_empty_phase_conditions_on_call_site_are_fine() -> None:
    assert with_tasks(task("a", phaseConditions={"failed": ""})).problems == ()


def test_inline_phase_conditions_allowed() -> None:
    result = with_tasks({"name": "a", "executor": {"type": "echo"}, "phaseConditions": {"failed": "code == 3"}})
    assert result.problems == ()


def test_call_site_fields_ignored_with_template() -> None:
    result = with_tasks(task("a", inputs={"parameters": []}, outputs={}, resources={"cpu": "1"}))
    assert codes(result) == [
        ("W-CALLSITE-FIELD-IGNORED", f"{DAG}.tasks[0].inputs"),
        ("W-CALLSITE-FIELD-IGNORED", f"{DAG}.tasks[0].outputs"),
        ("W-CALLSITE-FIELD-IGNORED", f"{DAG}.tasks[0].resources"),
    ]
    assert result.problems[0].message.startswith(T + "inputs is ignored here")


def test_retry_ignored_for_container_targets() -> None:
    def change(d: dict) -> None:
        add_template(d, {"loop": {"name": "each", "body": "work", "items": [1, 2]}})
        tasks(d)[0].update(template="each", retry={"limit": 2})

    result = load_changed(change)
    assert codes(result) == [("W-CALLSITE-FIELD-IGNORED", f"{DAG}.tasks[0].retry")]
    assert the(result, "W-CALLSITE-FIELD-IGNORED").message.startswith(T + "retry is ignored here")


def test_entrypoints_unknown() -> None:
    result = load_changed(lambda d: dag(d).update(entrypoints=["a", "zz"]))
    assert codes(result) == [("E-DAG-ENTRYPOINT-UNKNOWN", f"{DAG}.entrypoints[1]")]
    assert the(result, "E-DAG-ENTRYPOINT-UNKNOWN").message == T + 'entrypoint "zz" references unknown task'


def test_entrypoints_empty() -> None:
    result = load_changed(lambda d: dag(d).update(entrypoints=[]))
    assert codes(result) == [("W-DAG-ENTRYPOINTS-EMPTY", f"{DAG}.entrypoints")]
    assert the(result, "W-DAG-ENTRYPOINTS-EMPTY").message == (T + "entrypoints is empty; no task of this DAG will run")


def test_unreachable_dependency() -> None:
    result = with_tasks(task("a"), task("b"), task("c", "a", "b"))
    assert result.problems == ()
    result = load_changed(lambda d: dag(d).update(tasks=[task("a"), task("b"), task("c", "a", "b")], entrypoints="a"))
    assert codes(result) == [("W-DAG-UNREACHABLE-DEP", f"{DAG}.tasks[2].dependencies[1]")]
    assert the(result, "W-DAG-UNREACHABLE-DEP").message == T + (
        'task "c" depends on "b", which entrypoints never reach; "c" will never run'
    )


def test_ref_not_upstream_in_when() -> None:
    result = with_tasks(
        task("a"),
        task("b"),
        task("c", "b", when="tasks.a.phase == 'Succeeded'"),
        task("d", "c", when="tasks.b.phase == 'Succeeded' && tasks.ghost.phase == 'x'"),
    )
    assert codes(result) == [
        ("W-REF-NOT-UPSTREAM", f"{DAG}.tasks[2].when"),
        ("W-REF-NOT-UPSTREAM", f"{DAG}.tasks[3].when"),
    ]
    assert result.problems[0].message == T + 'task "c" reads tasks.a, which is not one of its dependencies'
    assert result.problems[1].message == T + "tasks.ghost does not name a task of this DAG"


def test_ref_not_upstream_in_argument_value_from() -> None:
    args = {"parameters": [{"name": "p", "valueFrom": {"parameter": "tasks.b.outputs.parameters.x"}}]}
    result = with_tasks(task("a"), task("b"), task("c", "a", arguments=args))
    path = f"{DAG}.tasks[2].arguments.parameters[0].valueFrom.parameter"
    assert codes(result) == [("W-REF-NOT-UPSTREAM", path)]


def test_ref_in_retry_expression_must_be_the_task_itself() -> None:
    ok = with_tasks(task("a", retry={"limit": 1, "expression": "tasks.a.phase != 'Succeeded'"}))
    assert ok.problems == ()
    bad = with_tasks(task("a"), task("b", "a", retry={"limit": 1, "expression": "tasks.a.phase == 'Failed'"}))
    assert codes(bad) == [("W-REF-NOT-UPSTREAM", f"{DAG}.tasks[1].retry.expression")]


def test_task_references_do_not_match_other_namespaces() -> None:
    result = with_tasks(task("a", when="inputs.parameters.tasks.x == 1 && subtasks.y == 2"))
    assert result.problems == ()


def test_inline_executor_rules() -> None:
    result = with_tasks({"name": "a", "executor": {"type": ""}})
    assert codes(result) == [("E-EXECUTOR-TYPE-REQUIRED", f"{DAG}.tasks[0].executor.type")]
    assert the(result, "E-EXECUTOR-TYPE-REQUIRED").message == 'template "main": executor.type is required'
    unknown = with_tasks({"name": "a", "executor": {"type": "kafka"}})
    assert codes(unknown) == [("W-EXECUTOR-UNKNOWN", f"{DAG}.tasks[0].executor.type")]
