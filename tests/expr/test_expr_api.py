"""The public API: compile cache, conditions (§5.7), paths, limits during
evaluation (§3.2 L-EXPR-STEPS, L-EXPR-VALUE), the §15 evaluator."""

from __future__ import annotations

import pickle
import timeit

import attrs
import pytest
from expr_helpers import StrictEnv, error

from aether.expr import (
    Compiled,
    EvalResult,
    ExpressionError,
    LarkEvaluator,
    compile_expression,
    evaluate,
    evaluate_condition,
)
from aether.expr.compiler import build
from aether.model.limits import DEFAULT_LIMITS, Limits

pytestmark = pytest.mark.spec("3.2", "5.7", "5.9", "15")

# --- compile and cache ------------------------------------------------------------------


def test_compile_is_cached_by_source_and_limits() -> None:
    first = compile_expression("tasks.a.phase == 'Succeeded'")
    assert compile_expression("tasks.a.phase == 'Succeeded'") is first
    other = compile_expression("tasks.a.phase == 'Succeeded'", Limits(expr_steps=5))
    assert other is not first
    assert compile_expression("tasks.a.phase == 'Succeeded'", Limits(expr_steps=5)) is other
    # Limits that no expression depends on share the entry.
    assert compile_expression("tasks.a.phase == 'Succeeded'", Limits(expr_steps=5, nodes_per_run=7)) is other


def test_cached_and_fresh_compiles_agree() -> None:
    source = "len(x) + 1 > 2 && 'a{{y}}' == 'ab'"
    env = StrictEnv({"x": [1, 2], "y": "b"})
    assert build(source).evaluate(env) == compile_expression(source).evaluate(env)


def test_compiled_attributes() -> None:
    compiled = compile_expression("a > 1")
    assert isinstance(compiled, Compiled)
    assert compiled.source == "a > 1"
    assert compiled.legacy is False


def test_evaluate_accepts_text_or_compiled() -> None:
    env = StrictEnv({"a": 2})
    assert evaluate("a > 1", env) == EvalResult(True, ())
    assert evaluate(compile_expression("a > 1"), env) == EvalResult(True, ())
    assert compile_expression("a > 1").evaluate(env) == EvalResult(True, ())


def test_eval_result_is_frozen() -> None:
    result = EvalResult(1)
    assert result.warnings == ()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.value = 2  # type: ignore[misc]


# --- conditions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("true", True),
        ("false", False),
        ("'true'", True),
        ("'TRUE'", False),
        ("'yes'", False),
        ("null", False),
        ("x", True),
        ("1 == 1", True),
        ("", True),
        ("  ", True),
    ],
)
def test_evaluate_condition(source: str, expected: bool) -> None:
    result = evaluate_condition(source, StrictEnv({"x": "true"}))
    assert result.value is expected


@pytest.mark.parametrize("source", ["1", "0", "2.5", "[]", "[true]", "x"])
def test_condition_must_be_boolean(source: str) -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate_condition(source, StrictEnv({"x": {"a": 1}}))
    assert info.value.code == "E-EXPR-NOT-BOOLEAN"


def test_condition_keeps_warnings() -> None:
    result = evaluate_condition("tasks.x.phase == 'Succeeded'", StrictEnv({}))
    assert result.value is False
    assert result.warnings == ('W-EXPR-UNRESOLVED: "tasks.x.phase" is not defined; using its text',)


def test_unresolved_bare_name_in_a_condition_is_false_not_an_error() -> None:
    # The name evaluates to its text, which is not "true".
    assert evaluate_condition("ready", StrictEnv({})).value is False


# --- paths ------------------------------------------------------------------------------


def test_paths_in_source_order() -> None:
    compiled = compile_expression(
        "tasks.a.phase == 'Succeeded' && {{inputs.parameters.x}} > rows[i.j] && 'q{{ w.e }}{{ bad key! }}'"
        " && tasks.a.phase != Failed && len(a-b) > 0"
    )
    assert compiled.paths() == (
        "tasks.a.phase",
        "inputs.parameters.x",
        "rows[i.j]",
        "i.j",
        "w.e",
        "bad key!",
        "Failed",
        "a-b",
    )


def test_paths_of_constant_expression() -> None:
    assert compile_expression("1 + 2").paths() == ()


# --- evaluation limits ------------------------------------------------------------------


def test_step_limit() -> None:
    limits = Limits(expr_steps=10)
    source = " + ".join(["1"] * 10)  # 9 additions
    assert evaluate(source, StrictEnv({}), limits).value == 10
    with pytest.raises(ExpressionError) as info:
        evaluate(" + ".join(["1"] * 12), StrictEnv({}), limits)
    assert info.value.code == "E-EXPR-LIMIT"


def test_step_limit_counts_lookups_and_calls() -> None:
    limits = Limits(expr_steps=3)
    assert evaluate("len(a) + 1", StrictEnv({"a": "x"}), limits).value == 2  # lookup, call, add
    with pytest.raises(ExpressionError) as info:
        evaluate("len(a) + len(a)", StrictEnv({"a": "x"}), limits)
    assert info.value.code == "E-EXPR-LIMIT"


def test_string_value_limit() -> None:
    limits = Limits(expr_string=5)
    env = StrictEnv({"s": "abcdef"})
    assert evaluate("'ab' + 'cde'", StrictEnv({}), limits).value == "abcde"
    assert evaluate("s", env, limits).value == "abcdef"  # read, not produced
    for source in ["'abc' + 'def'", "upper(s)", "str([1, 2, 3])", "json('abcd')", "'<{{s}}>'"]:
        with pytest.raises(ExpressionError) as info:
            evaluate(source, env, limits)
        assert info.value.code == "E-EXPR-LIMIT", source


def test_list_value_limit() -> None:
    limits = Limits(expr_list=3)
    assert evaluate("[1, 2] + [3]", StrictEnv({}), limits).value == [1, 2, 3]
    for source in ["[1, 2] + [3, 4]", "[1, 2, 3, 4]"]:
        with pytest.raises(ExpressionError) as info:
            evaluate(source, StrictEnv({}), limits)
        assert info.value.code == "E-EXPR-LIMIT"


def test_default_limits_values() -> None:
    assert DEFAULT_LIMITS.expr_steps == 10_000
    assert error("x + [1]", {"x": list(range(200_000))}).code == "E-EXPR-LIMIT"
    assert error("x + 'a'", {"x": "a" * 1_048_576}).code == "E-EXPR-LIMIT"


def _deep(levels: int) -> object:
    deep: object = 1
    for _ in range(levels):
        deep = [deep]
    return deep


def test_deeply_nested_value_equality_is_an_error_not_a_crash() -> None:
    # Two equal values that are not the same object, so equality must descend.
    with pytest.raises(ExpressionError) as info:
        evaluate("x == y", StrictEnv({"x": _deep(100_000), "y": _deep(100_000)}))
    assert info.value.code == "E-EXPR-LIMIT"


# --- errors -------------------------------------------------------------------------------


def test_error_attributes_survive_pickling() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression("a >")
    again = pickle.loads(pickle.dumps(info.value))
    assert (again.code, again.message, again.line, again.column, again.excerpt) == (
        "E-EXPR-SYNTAX",
        "unexpected end of expression",
        1,
        4,
        "  a >\n     ^",
    )
    assert str(again) == str(info.value)


# --- the ExpressionEvaluator of SPEC §15 -------------------------------------------------


def test_lark_evaluator() -> None:
    evaluator = LarkEvaluator()
    compiled = evaluator.compile("n * 2")
    assert evaluator.evaluate(compiled, StrictEnv({"n": 21})) == EvalResult(42, ())
    with pytest.raises(ExpressionError) as info:
        evaluator.compile("n *")
    assert info.value.code == "E-EXPR-SYNTAX"
    assert (info.value.line, info.value.column) == (1, 4)


def test_lark_evaluator_honours_its_limits() -> None:
    evaluator = LarkEvaluator(Limits(expr_length=3))
    with pytest.raises(ExpressionError) as info:
        evaluator.compile("1 + 1")
    assert info.value.code == "E-EXPR-TOO-LONG"
    evaluator = LarkEvaluator(Limits(expr_steps=1))
    with pytest.raises(ExpressionError) as info:
        evaluator.evaluate(evaluator.compile("1 + 1 + 1"), StrictEnv({}))
    assert info.value.code == "E-EXPR-LIMIT"


def test_compiled_evaluation_is_fast() -> None:
    compiled = compile_expression("tasks.a.phase == 'Succeeded'")
    env = {"tasks.a.phase": "Succeeded"}
    per_call = min(timeit.repeat(lambda: compiled.evaluate(env), number=2000, repeat=5)) / 2000
    assert per_call < 50e-6  # a few microseconds on any machine; generous against noise
