"""WorkflowSpec and parameter rules (SPEC §2.4, §2.6, §3.3.3)."""

from __future__ import annotations

import pytest
from model_helpers import add_template, assert_problem, codes, load_changed, tasks, the

from aether.model import Limits

pytestmark = pytest.mark.spec("2.4", "2.6", "2.9", "3.3.3")

WORK = "$.spec.templates[1].task"


def test_entrypoint_required() -> None:
    result = load_changed(lambda d: d["spec"].pop("entrypoint"))
    assert codes(result) == [("E-ENTRYPOINT-REQUIRED", "$.spec.entrypoint")]
    assert the(result, "E-ENTRYPOINT-REQUIRED").message == "spec.entrypoint is required"


def test_templates_required() -> None:
    result = load_changed(lambda d: d["spec"].update(templates=[]))
    assert_problem(result, "E-TEMPLATES-REQUIRED", "$.spec.templates", "spec.templates is required")
    assert_problem(result, "E-ENTRYPOINT-UNKNOWN", "$.spec.entrypoint")


def test_entrypoint_unknown() -> None:
    result = load_changed(lambda d: d["spec"].update(entrypoint="nope"))
    assert codes(result) == [("E-ENTRYPOINT-UNKNOWN", "$.spec.entrypoint")]
    assert the(result, "E-ENTRYPOINT-UNKNOWN").message == 'entrypoint template "nope" not found in templates'


def test_templates_limit_names_configured_value() -> None:
    result = load_changed(lambda d: None, limits=Limits(templates=1))
    assert codes(result) == [("E-TEMPLATES-LIMIT", "$.spec.templates")]
    assert the(result, "E-TEMPLATES-LIMIT").message == "2 templates; the limit is 1"


def test_template_variant_none_and_several() -> None:
    result = load_changed(lambda d: add_template(d, {}))
    assert codes(result) == [("E-TEMPLATE-VARIANT", "$.spec.templates[2]")]
    assert the(result, "E-TEMPLATE-VARIANT").message == 'template "templates[2]" must have exactly one of dag/task/loop'
    two = load_changed(lambda d: add_template(d, {"task": {"name": "x"}, "loop": {"name": "y"}}))
    assert the(two, "E-TEMPLATE-VARIANT").message == 'template "x" must have exactly one of dag/task/loop'


def test_duplicate_template_first_wins() -> None:
    def change(d: dict) -> None:
        add_template(d, {"dag": {"name": "work", "tasks": [{"name": "z", "executor": {"type": "echo"}}]}})

    result = load_changed(change)
    assert codes(result) == [("W-TEMPLATE-DUPLICATE", "$.spec.templates[2].dag.name")]
    assert the(result, "W-TEMPLATE-DUPLICATE").message == 'duplicate template name "work"; the first one is used'


@pytest.mark.parametrize("depth", [-1, 11, 50])
def test_nesting_clamped(depth: int) -> None:
    result = load_changed(lambda d: d["spec"].update(maxNestedDepth=depth))
    assert codes(result) == [("W-NESTING-CLAMPED", "$.spec.maxNestedDepth")]
    assert the(result, "W-NESTING-CLAMPED").message == f"maxNestedDepth {depth} treated as 10"


def test_nesting_clamp_uses_configured_ceiling() -> None:
    result = load_changed(lambda d: d["spec"].update(maxNestedDepth=6), limits=Limits(max_nested_depth_ceiling=5))
    assert the(result, "W-NESTING-CLAMPED").message == "maxNestedDepth 6 treated as 5"


@pytest.mark.parametrize("value", ["5x", "-1s", "1h 30m", "h", "1.2.3s"])
def test_duration_invalid(value: str) -> None:
    result = load_changed(lambda d: d["spec"].update(timeout=value))
    assert codes(result) == [("W-DURATION-INVALID", "$.spec.timeout")]
    assert the(result, "W-DURATION-INVALID").message == f'duration "{value}" is not valid; no deadline applies'


@pytest.mark.parametrize("value", ["0s", "30s", "1h30m", "1.5h", ".5s", "2d", "1d12h", "300ms", "10us", "3µs"])
def test_duration_valid(value: str) -> None:
    assert load_changed(lambda d: d["spec"].update(timeout=value)).problems == ()


def test_durations_everywhere() -> None:
    def change(d: dict) -> None:
        d["spec"]["templates"][0]["dag"]["timeout"] = "x"
        tasks(d)[0]["timeout"] = "y"
        d["spec"]["templates"][1]["task"]["timeout"] = "z"
        add_template(d, {"loop": {"name": "l", "body": "work", "items": [1], "timeout": "w"}})

    result = load_changed(change)
    assert [c for c in codes(result) if c[0] == "W-DURATION-INVALID"] == [
        ("W-DURATION-INVALID", "$.spec.templates[0].dag.tasks[0].timeout"),
        ("W-DURATION-INVALID", "$.spec.templates[0].dag.timeout"),
        ("W-DURATION-INVALID", "$.spec.templates[1].task.timeout"),
        ("W-DURATION-INVALID", "$.spec.templates[2].loop.timeout"),
    ]


def test_priority_range() -> None:
    result = load_changed(lambda d: d["spec"].update(priority=1001))
    assert codes(result) == [("W-SCHEMA-RANGE", "$.spec.priority")]
    assert the(result, "W-SCHEMA-RANGE").message == (
        'priority "1001" is outside the schema range: must be between 0 and 1000'
    )
    assert codes(load_changed(lambda d: d["spec"].update(priority=-1))) == [("W-SCHEMA-RANGE", "$.spec.priority")]


def test_workflow_argument_value_from_ignored() -> None:
    result = load_changed(
        lambda d: d["spec"].update(arguments={"parameters": [{"name": "p", "valueFrom": {"expression": "1"}}]})
    )
    assert codes(result) == [("W-ARG-VALUEFROM-IGNORED", "$.spec.arguments.parameters[0].valueFrom")]
    assert the(result, "W-ARG-VALUEFROM-IGNORED").message == "valueFrom is ignored on workflow arguments"


def test_parameter_duplicate() -> None:
    result = load_changed(
        lambda d: d["spec"].update(arguments={"parameters": [{"name": "p"}, {"name": "q"}, {"name": "p"}]})
    )
    assert codes(result) == [("W-PARAM-DUPLICATE", "$.spec.arguments.parameters[2]")]
    assert the(result, "W-PARAM-DUPLICATE").message == 'duplicate parameter name "p"'


def test_parameters_limit() -> None:
    params = [{"name": f"p{i}"} for i in range(4)]
    result = load_changed(
        lambda d: tasks(d)[0].update(arguments={"parameters": params}), limits=Limits(params_per_list=3)
    )
    assert codes(result) == [("E-PARAMS-LIMIT", "$.spec.templates[0].dag.tasks[0].arguments.parameters")]
    assert the(result, "E-PARAMS-LIMIT").message == "4 parameters; the limit is 3"


def test_parameter_type_unknown() -> None:
    result = load_changed(
        lambda d: d["spec"]["templates"][1]["task"].update(inputs={"parameters": [{"name": "p", "type": "str"}]})
    )
    assert codes(result) == [("W-PARAM-TYPE-UNKNOWN", f"{WORK}.inputs.parameters[0].type")]
    assert the(result, "W-PARAM-TYPE-UNKNOWN").message == 'unknown parameter type "str"'


@pytest.mark.parametrize(
    ("declared", "value", "fits"),
    [
        ("string", "x", True),
        ("string", 1, False),
        ("int", 3, True),
        ("integer", 3.0, True),
        ("int", 3.5, False),
        ("int", True, False),
        ("float", 3, True),
        ("number", 2.5, True),
        ("number", "2", False),
        ("bool", False, True),
        ("boolean", "true", False),
        ("array", [1], True),
        ("list", {"a": 1}, False),
        ("object", {"a": 1}, True),
        ("json", [1], False),
        ("map", {}, True),
        ("any", [1, {"x": None}], True),
    ],
)
def test_parameter_type_mismatch(declared: str, value: object, fits: bool) -> None:
    def change(d: dict) -> None:
        d["spec"]["arguments"] = {"parameters": [{"name": "p", "type": declared, "value": value}]}

    result = load_changed(change)
    if fits:
        assert result.problems == ()
    else:
        assert codes(result) == [("W-PARAM-TYPE-MISMATCH", "$.spec.arguments.parameters[0].value")]
        kind = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}
        assert the(result, "W-PARAM-TYPE-MISMATCH").message == (
            f'value of "p" is {kind[type(value)]}, declared {declared}'
        )


def test_parameter_default_mismatch() -> None:
    result = load_changed(
        lambda d: d["spec"].update(arguments={"parameters": [{"name": "p", "type": "int", "default": "x"}]})
    )
    assert codes(result) == [("W-PARAM-TYPE-MISMATCH", "$.spec.arguments.parameters[0].default")]
    assert the(result, "W-PARAM-TYPE-MISMATCH").message == 'default of "p" is string, declared int'


def test_parameter_enum() -> None:
    def change(d: dict, value: object) -> None:
        d["spec"]["arguments"] = {"parameters": [{"name": "p", "value": value, "enum": ["a", 1]}]}

    assert load_changed(lambda d: change(d, "a")).problems == ()
    assert load_changed(lambda d: change(d, 1.0)).problems == ()
    result = load_changed(lambda d: change(d, "b"))
    assert codes(result) == [("W-SCHEMA-RANGE", "$.spec.arguments.parameters[0].value")]
    assert the(result, "W-SCHEMA-RANGE").message == 'value "b" is outside the schema range: must be one of [a, 1]'
    assert codes(load_changed(lambda d: change(d, True))) == [
        ("W-SCHEMA-RANGE", "$.spec.arguments.parameters[0].value")
    ]


def test_value_from_multiple() -> None:
    def change(d: dict) -> None:
        tasks(d)[1]["arguments"] = {
            "parameters": [{"name": "p", "valueFrom": {"parameter": "tasks.a.outputs.parameters.x", "expression": "1"}}]
        }

    result = load_changed(change)
    path = "$.spec.templates[0].dag.tasks[1].arguments.parameters[0].valueFrom"
    assert codes(result) == [("W-VALUEFROM-MULTIPLE", path)]
    assert the(result, "W-VALUEFROM-MULTIPLE").message == 'valueFrom has several sources; "parameter" is used'


def test_loop_argument_placeholders_are_not_type_checked() -> None:
    def change(d: dict) -> None:
        add_template(
            d,
            {
                "loop": {
                    "name": "l",
                    "body": "work",
                    "items": [1],
                    "arguments": {"parameters": [{"name": "i", "type": "int", "value": "{{loop_iter.item}}"}]},
                }
            },
        )

    assert load_changed(change).problems == ()
