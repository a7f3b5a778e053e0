"""Expression fields (SPEC §3.3.8): every field reaches the compiler checks at its path.

The wiring tests inject a stand-in checker as ``expression_check``; the rest run the real
``aether.expr.check_expression``, which the model helpers pass by default.
"""

from __future__ import annotations

from typing import Any

import pytest
from attrs import frozen
from model_helpers import add_template, codes, load_changed, tasks, the

from aether.expr import check_expression as real_check
from aether.model import Limits
from aether.model.namespaces import KNOWN_NAMESPACES
from aether.model.validate.simple_expr import plainly_valid

pytestmark = pytest.mark.spec("3.3.8")


@frozen
class Diag:
    code: str
    severity: str
    message: str


class FakeChecker:
    """Flags every expression containing ``BAD``; records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, source: str, namespaces: Any, limits: Limits) -> list[Diag]:
        self.calls.append(source)
        assert "tasks" in namespaces and "system" in namespaces
        return [Diag("W-EXPR-SYNTAX", "warning", f"bad: {source}")] if "BAD" in source else []


@pytest.fixture
def fake() -> FakeChecker:
    return FakeChecker()


def every_expression_field(d: dict[str, Any]) -> None:
    tasks(d)[1].update(
        when="BAD when",
        retry={"limit": 1, "expression": "BAD retry"},
        arguments={"parameters": [{"name": "p", "valueFrom": {"expression": "BAD value"}}]},
    )
    tasks(d).append({"name": "c", "executor": {"type": "echo"}, "phaseConditions": {"failed": "BAD inline"}})
    d["spec"]["templates"][0]["dag"]["phaseConditions"] = {"succeeded": "BAD dag"}
    d["spec"]["templates"][1]["task"]["phaseConditions"] = {"error": "BAD task"}
    add_template(
        d, {"loop": {"name": "l1", "body": "work", "itemsFrom": "BAD items", "phaseConditions": {"failed": "BAD loop"}}}
    )
    add_template(d, {"loop": {"name": "l2", "body": "work", "repeatCondition": "BAD repeat", "maxIterations": 2}})


def test_every_expression_field_is_checked_at_its_path(fake: FakeChecker) -> None:
    result = load_changed(every_expression_field, expression_check=fake)
    t = "$.spec.templates"
    assert [c for c in codes(result) if c[0] == "W-EXPR-SYNTAX"] == [
        # Document order: the keys were added as when, retry, arguments.
        ("W-EXPR-SYNTAX", f"{t}[0].dag.tasks[1].when"),
        ("W-EXPR-SYNTAX", f"{t}[0].dag.tasks[1].retry.expression"),
        ("W-EXPR-SYNTAX", f"{t}[0].dag.tasks[1].arguments.parameters[0].valueFrom.expression"),
        ("W-EXPR-SYNTAX", f"{t}[0].dag.tasks[2].phaseConditions.failed"),
        ("W-EXPR-SYNTAX", f"{t}[0].dag.phaseConditions.succeeded"),
        ("W-EXPR-SYNTAX", f"{t}[1].task.phaseConditions.error"),
        ("W-EXPR-SYNTAX", f"{t}[2].loop.itemsFrom"),
        ("W-EXPR-SYNTAX", f"{t}[2].loop.phaseConditions.failed"),
        ("W-EXPR-SYNTAX", f"{t}[3].loop.repeatCondition"),
    ]
    assert the_message(result, f"{t}[0].dag.tasks[1].when") == "bad: BAD when"


def the_message(result: Any, path: str) -> str:
    return str(next(p.message for p in result.problems if p.path == path))


def test_ignored_fields_are_not_compiled(fake: FakeChecker) -> None:
    def change(d: dict[str, Any]) -> None:
        d["spec"]["arguments"] = {"parameters": [{"name": "w", "valueFrom": {"expression": "BAD wf"}}]}
        d["spec"]["templates"][1]["task"]["when"] = "BAD ignored"

    load_changed(change, expression_check=fake)
    assert "BAD wf" not in fake.calls
    assert "BAD ignored" not in fake.calls


def test_each_distinct_source_is_compiled_once(fake: FakeChecker) -> None:
    def change(d: dict[str, Any]) -> None:
        for i in range(5):
            tasks(d).append({"name": f"x{i}", "template": "work", "when": "BAD same"})

    result = load_changed(change, expression_check=fake)
    assert fake.calls.count("BAD same") == 1
    assert len([p for p in result.problems if p.code == "W-EXPR-SYNTAX"]) == 5


def test_plain_expressions_skip_the_compiler(fake: FakeChecker) -> None:
    when = "tasks.a.phase == 'Succeeded' && inputs.parameters.n > 3"
    load_changed(lambda d: tasks(d)[1].update(when=when), expression_check=fake)
    assert fake.calls == []


def test_expression_too_long_names_configured_limit(fake: FakeChecker) -> None:
    when = "true" + " " * 20
    limits = Limits(expr_length=10)
    result = load_changed(lambda d: tasks(d)[1].update(when=when), limits=limits, expression_check=fake)
    assert codes(result) == [("E-EXPR-TOO-LONG", "$.spec.templates[0].dag.tasks[1].when")]
    assert the(result, "E-EXPR-TOO-LONG").message == "expression is 24 characters; the limit is 10"
    assert fake.calls == []


def test_cron_workflow_spec_expression_messages_are_prefixed(fake: FakeChecker) -> None:
    from model_helpers import cron_base, load

    doc = cron_base()
    doc["spec"]["workflowSpec"]["templates"][0]["dag"]["tasks"][1]["when"] = "BAD cron"
    problem = the(load(doc, expression_check=fake), "W-EXPR-SYNTAX")
    assert problem.path == "$.spec.workflowSpec.templates[0].dag.tasks[1].when"
    assert problem.message == "spec.workflowSpec: bad: BAD cron"


@pytest.mark.parametrize(
    "source",
    [
        "true",
        "tasks.a.phase == 'Succeeded'",
        'tasks.detect-os.outputs.parameters.os == "linux"',
        "loop_iter.index != 2",
        "tasks.a.phase == 'Failed' || tasks.b.phase == 'Failed' && code != 0",
        "retryCount < 3",
        "tasks.in.phase == null",
    ],
)
def test_plain_recognizer_accepts(source: str) -> None:
    assert plainly_valid(source, KNOWN_NAMESPACES)


@pytest.mark.parametrize(
    "source",
    [
        "x-1 > 2",
        "foo == 1",
        "tasks.a.phase == ",
        "a < b < c",
        "(tasks.a.phase == 'x')",
        "{{tasks.a.outputs.parameters.x}} == 'y'",
        "tasks.a.phase == 'x' and code == 1",
        "true.x == 1",
        "'a\\'b' == 'x'",
        "-1 < code",
        "len(tasks) > 1",
        "tasks.a.phase == 'x' &&",
    ],
)
def test_plain_recognizer_rejects(source: str) -> None:
    assert not plainly_valid(source, KNOWN_NAMESPACES)


# --- with the real expression layer -----------------------------------------------------

PLAIN_CORPUS = [
    "true",
    "false",
    "null == null",
    "tasks.a.phase == 'Succeeded'",
    'tasks.detect-os.outputs.parameters.os == "darwin"',
    "loop_iter.index != 2",
    "phase == 'Failed' && code >= 2 || msg != ''",
    "retryCount < 3 && tasks.x.outputs.parameters.n <= 10.5",
    "workflow.parameters.env == 'prod' && system.os == 'linux'",
    "tasks.a.phase == 'x' && tasks.b.phase == 'y' && tasks.c.phase == 'z' && tasks.d.phase == 'w'",
]


@pytest.mark.parametrize("source", PLAIN_CORPUS)
def test_plain_recognizer_agrees_with_the_compiler(source: str) -> None:
    assert plainly_valid(source, KNOWN_NAMESPACES)
    assert real_check(source, KNOWN_NAMESPACES, Limits()) == []


def test_real_syntax_warning_and_legacy() -> None:
    syntax = load_changed(lambda d: tasks(d)[1].update(when="a < b < c"))
    problem = the(syntax, "W-EXPR-SYNTAX")
    assert problem.path == "$.spec.templates[0].dag.tasks[1].when"
    assert problem.message.startswith("E-EXPR-SYNTAX at 1:7")
    assert syntax.ok
    legacy = load_changed(lambda d: tasks(d)[1].update(when="tasks.a.phase == "))
    assert the(legacy, "W-EXPR-LEGACY").message.startswith("expression evaluated in legacy mode: ")


def test_real_hyphen_warning() -> None:
    result = load_changed(lambda d: tasks(d)[1].update(when="x-1 > 2"))
    assert the(result, "W-EXPR-HYPHEN").message == '"x-1" is read as one name; put spaces around "-" to subtract'


def test_real_too_deep_is_an_error() -> None:
    source = "(" * 70 + "1" + ")" * 70 + " == 1"
    result = load_changed(lambda d: tasks(d)[1].update(when=source))
    assert codes(result) == [("E-EXPR-TOO-DEEP", "$.spec.templates[0].dag.tasks[1].when")]
    assert the(result, "E-EXPR-TOO-DEEP").message == "expression nesting exceeds 64"
    assert not result.ok


def test_a_registered_variable_namespace_is_a_name_not_a_subtraction() -> None:
    when = "deploy.cluster-name == 'eu'"
    unregistered = load_changed(lambda d: tasks(d)[1].update(when=when))
    assert the(unregistered, "W-EXPR-HYPHEN").path == "$.spec.templates[0].dag.tasks[1].when"
    registered = load_changed(lambda d: tasks(d)[1].update(when=when), variable_namespaces=["deploy"])
    assert [code for code, _path in codes(registered) if code == "W-EXPR-HYPHEN"] == []
    strict = load_changed(lambda d: tasks(d)[1].update(when=when), variable_namespaces=["deploy"], strict=True)
    assert strict.ok
