"""Task templates, executors, retry, resources (§3.3.5), loops (§3.3.6), hooks
(§3.3.7) and nesting depth (§3.3.9)."""

from __future__ import annotations

from typing import Any

import pytest
from model_helpers import CHECKS, add_template, codes, load, load_changed, tasks, the

from aether.model import Limits

pytestmark = pytest.mark.spec("2.5.3", "2.5.4", "3.3.5", "3.3.6", "3.3.7", "3.3.9")

WORK = "$.spec.templates[1].task"
LOOP = "$.spec.templates[2].loop"


def work(d: dict[str, Any]) -> dict[str, Any]:
    template: dict[str, Any] = d["spec"]["templates"][1]["task"]
    return template


# --- task templates and executors -----------------------------------------------------


def test_executor_type_required() -> None:
    result = load_changed(lambda d: work(d).update(executor={}))
    assert codes(result) == [("E-EXECUTOR-TYPE-REQUIRED", f"{WORK}.executor.type")]
    assert the(result, "E-EXECUTOR-TYPE-REQUIRED").message == 'template "work": executor.type is required'


def test_task_without_executor() -> None:
    result = load_changed(lambda d: work(d).pop("executor"))
    assert codes(result) == [("W-TASK-NO-EXECUTOR", WORK)]
    assert the(result, "W-TASK-NO-EXECUTOR").message == (
        'template "work" has no executor; a task that runs it will end in Error'
    )
    assert result.ok


def test_executor_unknown_only_with_checks() -> None:
    result = load_changed(lambda d: work(d).update(executor={"type": "kafka"}))
    assert codes(result) == [("W-EXECUTOR-UNKNOWN", f"{WORK}.executor.type")]
    assert the(result, "W-EXECUTOR-UNKNOWN").message == 'executor type "kafka" is not registered'
    assert load_changed(lambda d: work(d).update(executor={"type": "kafka"}), executor_checks=None).problems == ()


def test_executor_config_problems() -> None:
    def shell_check(config: dict | None) -> list[str]:
        return [] if config and "command" in config else ["command is required"]

    checks = {**CHECKS, "shell": shell_check}
    result = load_changed(lambda d: work(d).update(executor={"type": "shell", "config": {}}), executor_checks=checks)
    assert codes(result) == [("W-EXECUTOR-CONFIG", f"{WORK}.executor.config")]
    assert the(result, "W-EXECUTOR-CONFIG").message == 'executor "shell" config: command is required'
    no_config = load_changed(lambda d: work(d).update(executor={"type": "shell"}), executor_checks=checks)
    assert codes(no_config) == [("W-EXECUTOR-CONFIG", f"{WORK}.executor")]


def test_executor_check_that_raises_is_a_problem_not_a_crash() -> None:
    def broken(_config: dict | None) -> list[str]:
        raise RuntimeError("boom")

    result = load_changed(lambda d: None, executor_checks={**CHECKS, "echo": broken})
    assert the(result, "W-EXECUTOR-CONFIG").message == 'executor "echo" config: check failed: boom'


def test_retry_on_template_ignored() -> None:
    result = load_changed(lambda d: work(d).update(retry={"limit": 2}))
    assert codes(result) == [("W-TEMPLATE-RETRY-IGNORED", f"{WORK}.retry")]
    assert the(result, "W-TEMPLATE-RETRY-IGNORED").message == "retry on a template is ignored; set it on the DAG task"


@pytest.mark.parametrize("field", ["template", "dependencies", "arguments", "when", "continueOn"])
def test_call_site_fields_on_task_template(field: str) -> None:
    values = {"template": "x", "dependencies": ["a"], "arguments": {}, "when": "true", "continueOn": {}}
    result = load_changed(lambda d: work(d).update({field: values[field]}))
    assert codes(result) == [("W-CALLSITE-FIELD-IGNORED", f"{WORK}.{field}")]
    assert the(result, "W-CALLSITE-FIELD-IGNORED").message.startswith(f'template "work": {field} is ignored here')


def test_retry_limit_range() -> None:
    result = load_changed(lambda d: tasks(d)[0].update(retry={"limit": 101}))
    assert codes(result) == [("W-SCHEMA-RANGE", "$.spec.templates[0].dag.tasks[0].retry.limit")]
    assert the(result, "W-SCHEMA-RANGE").message == 'retry.limit "101" is outside the schema range: must be at most 100'


@pytest.mark.parametrize(
    ("backoff", "field", "message"),
    [
        ({}, "duration", "retry.backoff: duration is required"),
        ({"duration": "soon"}, "duration", 'retry.backoff: duration "soon" is not a valid duration'),
        ({"duration": "0s"}, "duration", "retry.backoff: duration must be > 0"),
        ({"duration": "1s", "factor": 0.5}, "factor", "retry.backoff: factor must be >= 1"),
        (
            {"duration": "1s", "maxDuration": "later"},
            "maxDuration",
            'retry.backoff: maxDuration "later" is not a valid duration',
        ),
    ],
)
def test_retry_backoff(backoff: dict[str, Any], field: str, message: str) -> None:
    result = load_changed(lambda d: tasks(d)[0].update(retry={"limit": 1, "backoff": backoff}))
    assert codes(result) == [("E-RETRY-BACKOFF", f"$.spec.templates[0].dag.tasks[0].retry.backoff.{field}")]
    assert the(result, "E-RETRY-BACKOFF").message == message


def test_valid_backoff() -> None:
    backoff = {"duration": "1s", "factor": 2, "maxDuration": "1m"}
    assert load_changed(lambda d: tasks(d)[0].update(retry={"limit": 3, "backoff": backoff})).problems == ()


@pytest.mark.parametrize(
    ("resources", "field"),
    [
        ({"cpu": "1.5"}, "cpu"),
        ({"cpu": -1}, "cpu"),
        ({"memory": "1GB"}, "memory"),
        ({"gpu": "one"}, "gpu"),
        ({"gpu": -2}, "gpu"),
    ],
)
def test_resources_formats(resources: dict[str, Any], field: str) -> None:
    result = load_changed(lambda d: work(d).update(resources=resources))
    assert codes(result) == [("W-SCHEMA-RANGE", f"{WORK}.resources.{field}")]
    assert the(result, "W-SCHEMA-RANGE").message.startswith(f'resources.{field} "')


def test_resources_valid() -> None:
    resources = {"cpu": "500m", "memory": "256Mi", "gpu": 1}
    assert load_changed(lambda d: work(d).update(resources=resources)).problems == ()


# --- loops ----------------------------------------------------------------------------


def with_loop(**loop: Any) -> Any:
    def change(d: dict[str, Any]) -> None:
        add_template(d, {"loop": {"name": "each", **loop}})
        tasks(d)[0]["template"] = "each"

    return load_changed(change)


L = 'template "each": '


def test_loop_valid_modes() -> None:
    assert with_loop(body="work", items=[1, 2]).problems == ()
    assert with_loop(body="work", itemsFrom="{{inputs.parameters.list}}").problems == ()
    assert with_loop(body="work", repeatCondition="loop_iter.index < 3", maxIterations=5).problems == ()


def test_loop_body_required_and_unknown() -> None:
    result = with_loop(items=[1])
    assert codes(result) == [("E-LOOP-BODY-REQUIRED", f"{LOOP}.body")]
    assert the(result, "E-LOOP-BODY-REQUIRED").message == L + "loop.body is required"
    unknown = with_loop(body="nope", items=[1])
    assert codes(unknown) == [("E-LOOP-BODY-UNKNOWN", f"{LOOP}.body")]
    assert the(unknown, "E-LOOP-BODY-UNKNOWN").message == L + 'loop.body references unknown template "nope"'


def test_loop_mode_none_and_multiple() -> None:
    none = with_loop(body="work", items=[])
    assert codes(none) == [("E-LOOP-MODE-NONE", LOOP)]
    assert the(none, "E-LOOP-MODE-NONE").message == L + "loop must specify one of repeatCondition/items/itemsFrom"
    several = with_loop(body="work", items=[1], itemsFrom="x")
    assert codes(several) == [("E-LOOP-MODE-MULTIPLE", LOOP)]
    assert the(several, "E-LOOP-MODE-MULTIPLE").message == (
        L + "loop must specify only one of repeatCondition/items/itemsFrom"
    )


def test_loop_repeat_needs_max_iterations() -> None:
    for extra in ({}, {"maxIterations": 0}):
        result = with_loop(body="work", repeatCondition="true", **extra)
        assert codes(result) == [("E-LOOP-MAXITER-REQUIRED", f"{LOOP}.maxIterations")]
        assert the(result, "E-LOOP-MAXITER-REQUIRED").message == (
            L + "loop.maxIterations is required when using repeatCondition"
        )


def test_loop_repeat_is_serial() -> None:
    result = with_loop(body="work", repeatCondition="true", maxIterations=3, concurrency=2)
    assert codes(result) == [("E-LOOP-CONCURRENCY-REPEAT", f"{LOOP}.concurrency")]
    assert the(result, "E-LOOP-CONCURRENCY-REPEAT").message == (
        L + "loop.concurrency is not allowed with repeatCondition (serial only)"
    )


def test_loop_aggregate_strategy() -> None:
    result = with_loop(body="work", items=[1], aggregate={"strategy": "sum"})
    assert codes(result) == [("E-LOOP-AGGREGATE-STRATEGY", f"{LOOP}.aggregate.strategy")]
    assert the(result, "E-LOOP-AGGREGATE-STRATEGY").message == (
        L + 'loop.aggregate.strategy "sum" is not supported; valid values: last, first, list'
    )
    assert with_loop(body="work", items=[1], aggregate={"strategy": ""}).problems == ()


def test_loop_items_limit() -> None:
    def change(d: dict[str, Any]) -> None:
        add_template(d, {"loop": {"name": "each", "body": "work", "items": [1, 2, 3]}})

    result = load_changed(change, limits=Limits(loop_items=2))
    assert codes(result) == [("E-LOOP-ITEMS-LIMIT", f"{LOOP}.items")]
    assert the(result, "E-LOOP-ITEMS-LIMIT").message == L + "loop.items has 3 elements; the limit is 2"


def test_loop_max_iterations_clamped() -> None:
    def change(d: dict[str, Any]) -> None:
        add_template(d, {"loop": {"name": "each", "body": "work", "items": [1], "maxIterations": 11}})

    result = load_changed(change, limits=Limits(loop_iterations=10))
    assert codes(result) == [("W-LOOP-MAXITER-CLAMPED", f"{LOOP}.maxIterations")]
    assert the(result, "W-LOOP-MAXITER-CLAMPED").message == L + "loop.maxIterations 11 treated as 10"


def test_loop_argument_value_from_ignored() -> None:
    args = {"parameters": [{"name": "x", "valueFrom": {"parameter": "inputs.parameters.y"}}]}
    result = with_loop(body="work", items=[1], arguments=args)
    assert codes(result) == [("W-LOOP-ARG-VALUEFROM-IGNORED", f"{LOOP}.arguments.parameters[0].valueFrom")]
    assert the(result, "W-LOOP-ARG-VALUEFROM-IGNORED").message == L + "valueFrom is ignored in loop arguments"


# --- hooks ----------------------------------------------------------------------------


def test_workflow_hook_unknown_template() -> None:
    result = load_changed(lambda d: d["spec"].update(hooks={"onExit": {"template": "nope"}}))
    assert codes(result) == [("E-HOOK-UNKNOWN-TEMPLATE", "$.spec.hooks.onExit.template")]
    assert the(result, "E-HOOK-UNKNOWN-TEMPLATE").message == 'spec.hooks: onExit references unknown template "nope"'


def test_task_hook_must_be_task_template() -> None:
    result = load_changed(lambda d: tasks(d)[0].update(hooks={"onSuccess": {"template": "main"}}))
    path = "$.spec.templates[0].dag.tasks[0].hooks.onSuccess.template"
    assert codes(result) == [("E-HOOK-NOT-TASK", path)]
    assert the(result, "E-HOOK-NOT-TASK").message == (
        'template "main" task "a" hooks: onSuccess template "main" must be a task template (not dag or loop)'
    )


def test_hook_empty() -> None:
    result = load_changed(lambda d: d["spec"].update(hooks={"onStart": {}}))
    assert codes(result) == [("W-HOOK-EMPTY", "$.spec.hooks.onStart")]
    assert the(result, "W-HOOK-EMPTY").message == "spec.hooks: onStart has no template and never fires"


def test_hooks_that_never_fire() -> None:
    workflow_level = load_changed(lambda d: d["spec"].update(hooks={"onSuspend": {"template": "work"}}))
    assert codes(workflow_level) == [("W-HOOK-NEVER-FIRES", "$.spec.hooks.onSuspend")]
    assert the(workflow_level, "W-HOOK-NEVER-FIRES").message == "spec.hooks: onSuspend never fires here"
    on_template = load_changed(lambda d: work(d).update(hooks={"onExit": {"template": "work"}}))
    assert codes(on_template) == [("W-HOOK-NEVER-FIRES", f"{WORK}.hooks.onExit")]
    assert the(on_template, "W-HOOK-NEVER-FIRES").message == 'template "work" hooks: onExit never fires here'


def test_container_call_site_fires_only_cancel_and_exit() -> None:
    def change(d: dict[str, Any]) -> None:
        add_template(d, {"dag": {"name": "inner", "tasks": [{"name": "x", "template": "work"}]}})
        tasks(d)[0]["template"] = "inner"
        tasks(d)[0]["hooks"] = {name: {"template": "work"} for name in ("onStart", "onCancel", "onExit")}

    result = load_changed(change)
    assert codes(result) == [("W-HOOK-NEVER-FIRES", "$.spec.templates[0].dag.tasks[0].hooks.onStart")]


def test_leaf_call_site_hooks_all_fire() -> None:
    hooks = {name: {"template": "work"} for name in ("onStart", "onSuspend", "onResume", "onError", "onExit")}
    assert load_changed(lambda d: tasks(d)[0].update(hooks=hooks)).problems == ()


# --- nesting --------------------------------------------------------------------------


def chain(depth: int, max_depth: int | None = None) -> dict[str, Any]:
    """A chain of ``depth`` DAGs d0 -> d1 -> ... ending in task template ``leaf``."""
    templates: list[dict[str, Any]] = []
    for i in range(depth):
        target = f"d{i + 1}" if i + 1 < depth else "leaf"
        templates.append({"dag": {"name": f"d{i}", "tasks": [{"name": "t", "template": target}]}})
    templates.append({"task": {"name": "leaf", "executor": {"type": "echo"}}})
    spec: dict[str, Any] = {"entrypoint": "d0", "templates": templates}
    if max_depth is not None:
        spec["maxNestedDepth"] = max_depth
    return {"apiVersion": "aether/v1", "kind": "Workflow", "metadata": {"name": "n"}, "spec": spec}


def test_nesting_default_three() -> None:
    assert load(chain(3)).problems == ()
    result = load(chain(4))
    assert codes(result) == [("E-NESTING-DEPTH", "$.spec.entrypoint")]
    assert the(result, "E-NESTING-DEPTH").message == "template nesting depth exceeds maximum (3)"


def test_nesting_configured_and_clamped() -> None:
    assert load(chain(5, max_depth=5)).problems == ()
    assert codes(load(chain(6, max_depth=5))) == [("E-NESTING-DEPTH", "$.spec.entrypoint")]
    clamped = load(chain(11, max_depth=99))
    assert the(clamped, "E-NESTING-DEPTH").message == "template nesting depth exceeds maximum (10)"


def test_inline_executor_counts_as_a_visit() -> None:
    doc = chain(3)
    doc["spec"]["templates"][2]["dag"]["tasks"] = [{"name": "t", "executor": {"type": "echo"}}]
    assert load(doc).problems == ()
    doc = chain(4)
    doc["spec"]["templates"][3]["dag"]["tasks"] = [{"name": "t", "executor": {"type": "echo"}}]
    assert codes(load(doc)) == [("E-NESTING-DEPTH", "$.spec.entrypoint")]


def test_recursion_always_fails_and_loops_count() -> None:
    doc = chain(1)
    doc["spec"]["templates"][0]["dag"]["tasks"][0]["template"] = "d0"
    assert codes(load(doc)) == [("E-NESTING-DEPTH", "$.spec.entrypoint")]
    looped = chain(2)
    looped["spec"]["templates"].append({"loop": {"name": "l", "body": "l2", "items": [1]}})
    looped["spec"]["templates"].append({"loop": {"name": "l2", "body": "leaf", "items": [1]}})
    looped["spec"]["templates"][1]["dag"]["tasks"][0]["template"] = "l"
    # d0 -> d1 -> l -> l2 -> leaf is depth 4.
    assert codes(load(looped)) == [("E-NESTING-DEPTH", "$.spec.entrypoint")]


def test_nesting_does_not_follow_unknown_or_unreachable_templates() -> None:
    doc = chain(2)
    doc["spec"]["templates"].append({"dag": {"name": "island", "tasks": [{"name": "t", "template": "island"}]}})
    assert load(doc).problems == ()


def test_nesting_walk_is_linear_in_shared_templates() -> None:
    # Wide fan-out of a shared deep chain: exponential without memoisation.
    doc = chain(3, max_depth=10)
    for template in doc["spec"]["templates"][:3]:
        target = template["dag"]["tasks"][0]["template"]
        template["dag"]["tasks"] = [{"name": f"t{i}", "template": target} for i in range(200)]
    assert load(doc).problems == ()
