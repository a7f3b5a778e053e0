"""SPEC §5.10 legacy mode and §3.3.8 submit-time expression checks."""

from __future__ import annotations

import pytest
from expr_helpers import StrictEnv

from aether.expr import (
    DEFAULT_NAMESPACES,
    ExprDiagnostic,
    ExpressionError,
    check_expression,
    compile_expression,
    evaluate,
    evaluate_condition,
)
from aether.model.limits import Limits

pytestmark = pytest.mark.spec("3.3.8", "5.10")

# --- legacy mode ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "env", "expected"),
    [
        # Sides that are not expressions: compared as text.
        ("tasks.a.outputs.parameters.msg == hello world", {"tasks.a.outputs.parameters.msg": "hello world"}, True),
        ("hello world == hello world", {}, True),
        ("hello world != hello world", {}, False),
        ("a b == 'a b'", {}, True),
        ('a b == "a b"', {}, True),
        ("x y == x  y", {}, False),
        # A side that is a variable key is its value, rendered.
        ("n == 2 3", {"n": "2 3"}, True),
        ("flag x == true x", {"flag x": True}, False),
        ("count == 1000000 + ", {"count": 1000000}, False),
        # Split at the first `==`; `!=` only without `==`.
        ("a == b == c", {"a": "x", "b == c": "y"}, False),
        ("a == b == c", {}, False),
        ("x!= 'y' z", {"x": "y' z"}, True),  # `'y' z` is not wrapped in quotes
        ("x y != 'y z'", {"x y": "y z"}, False),
        ("  x == y) ", {"x": "y)"}, True),
        # Quotes: matching only; no escape processing.
        ("'it\\'s' == x y", {}, False),
        ("'a\\n' == 'a\\n' b", {}, False),
        # Placeholders in a side are interpolated.
        ("{{ tasks.a.phase }} == Succeeded ok", {"tasks.a.phase": "Succeeded ok"}, True),
    ],
)
def test_legacy_evaluation(source: str, env: dict[str, object], expected: bool) -> None:
    compiled = compile_expression(source)
    assert compiled.legacy
    assert evaluate(compiled, StrictEnv(env)).value is expected


def test_legacy_sides_render_values() -> None:
    env = {"tasks.x.outputs.parameters.n": 2.0, "tasks.x.outputs.parameters.l": [1, "a"]}
    assert evaluate("tasks.x.outputs.parameters.n == 2 )", StrictEnv(env)).value is False
    assert evaluate("tasks.x.outputs.parameters.l == [1 a]", StrictEnv(env)).value is True


def test_legacy_condition_and_paths() -> None:
    compiled = compile_expression("tasks.a.outputs.parameters.s == some text")
    assert compiled.legacy
    assert compiled.paths() == ("tasks.a.outputs.parameters.s",)
    assert evaluate_condition(compiled, StrictEnv({"tasks.a.outputs.parameters.s": "some text"})).value is True


def test_text_without_equality_that_does_not_compile_raises_each_time() -> None:
    for _ in range(2):
        with pytest.raises(ExpressionError) as info:
            evaluate("a b", StrictEnv({}))
        assert info.value.code == "E-EXPR-SYNTAX"


def test_function_errors_of_an_equality_also_fall_back_to_legacy() -> None:
    compiled = compile_expression("nope(x) == nope(x)")
    assert compiled.legacy
    assert compiled.legacy_reason == 'E-EXPR-FUNCTION at 1:1: unknown function "nope"'
    assert evaluate(compiled, StrictEnv({})).value is True


def test_expressions_that_compile_are_never_legacy() -> None:
    assert not compile_expression("tasks.a.phase == Succeeded").legacy
    assert not compile_expression("x == 2.0").legacy
    assert evaluate("x == 2.0", StrictEnv({"x": 2})).value is True  # by value, not as text
    assert evaluate("x == null", StrictEnv({"x": None})).value is True


# --- submit-time checks -----------------------------------------------------------------


def test_clean_expression_has_no_problems() -> None:
    assert check_expression("tasks.detect-os.outputs.parameters.os == 'linux'") == []
    assert check_expression("inputs.parameters.items-list != '[]'") == []
    assert check_expression("") == []
    assert check_expression("   ") == []


def test_too_long() -> None:
    source = "x == '" + "a" * 5000 + "'"
    assert check_expression(source) == [
        ExprDiagnostic("E-EXPR-TOO-LONG", "error", f"expression is {len(source)} characters; the limit is 4096")
    ]
    assert check_expression("1 + 1", limits=Limits(expr_length=4)) == [
        ExprDiagnostic("E-EXPR-TOO-LONG", "error", "expression is 5 characters; the limit is 4")
    ]


def test_too_deep() -> None:
    assert check_expression("(" * 65 + "1" + ")" * 65) == [
        ExprDiagnostic("E-EXPR-TOO-DEEP", "error", "expression nesting exceeds 64")
    ]
    assert check_expression("((1))", limits=Limits(expr_depth=1)) == [
        ExprDiagnostic("E-EXPR-TOO-DEEP", "error", "expression nesting exceeds 1")
    ]


def test_syntax_warning_has_position_and_excerpt() -> None:
    assert check_expression("a &&& b") == [
        ExprDiagnostic("W-EXPR-SYNTAX", "warning", 'E-EXPR-SYNTAX at 1:5: unexpected "&"\n  a &&& b\n      ^')
    ]


def test_function_error_is_a_syntax_warning_with_its_code() -> None:
    assert check_expression("size(x) > 1") == [
        ExprDiagnostic(
            "W-EXPR-SYNTAX", "warning", 'E-EXPR-FUNCTION at 1:1: unknown function "size"\n  size(x) > 1\n  ^'
        )
    ]


def test_legacy_warning() -> None:
    assert check_expression("tasks.a.phase == 'x')") == [
        ExprDiagnostic(
            "W-EXPR-LEGACY", "warning", 'expression evaluated in legacy mode: E-EXPR-SYNTAX at 1:21: unexpected ")"'
        )
    ]


def test_hyphen_warning() -> None:
    assert check_expression("count-1 > 0") == [
        ExprDiagnostic("W-EXPR-HYPHEN", "warning", '"count-1" is read as one name; put spaces around "-" to subtract')
    ]
    assert check_expression("item.size-1 > 0 && {{ my-var }} == 1 && item.size-1 > 2") == [
        ExprDiagnostic(
            "W-EXPR-HYPHEN", "warning", '"item.size-1" is read as one name; put spaces around "-" to subtract'
        ),
        ExprDiagnostic("W-EXPR-HYPHEN", "warning", '"my-var" is read as one name; put spaces around "-" to subtract'),
    ]


@pytest.mark.parametrize("namespace", sorted(DEFAULT_NAMESPACES))
def test_known_namespaces_do_not_warn(namespace: str) -> None:
    assert check_expression(f"{namespace}.a-b == 1") == []


def test_registered_namespaces_do_not_warn() -> None:
    assert check_expression("deploy.cluster-name == 'x'")[0].code == "W-EXPR-HYPHEN"
    assert check_expression("deploy.cluster-name == 'x'", DEFAULT_NAMESPACES | {"deploy"}) == []
    assert check_expression("a-b", ["a-b"]) == []


def test_default_namespaces() -> None:
    assert {
        "tasks",
        "inputs",
        "workflow",
        "loop_iter",
        "iterator",
        "loop",
        "outputs",
        "phase",
        "code",
        "msg",
        "retryCount",
        "system",
    } == set(DEFAULT_NAMESPACES)
