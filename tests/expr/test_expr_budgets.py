"""SPEC §3.2 and §5.9: an evaluation is bounded in time and memory while it
runs. Sizes are known before a string or a list is built (L-EXPR-VALUE), each
step's work is counted (L-EXPR-WORK), and every refusal names its limit.

Memory is measured with ``tracemalloc`` (peak of the evaluation alone): the
bounds are behaviour, not performance; the previous engine built the whole
value first (16.6 GB for the first case) and failed these bounds by orders of
magnitude."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from expr_helpers import StrictEnv

from aether.expr import ExpressionError, evaluate, evaluate_condition
from aether.model.limits import Limits

pytestmark = pytest.mark.spec("3.2", "5.5", "5.6", "5.9")

MB = 1024 * 1024
BIG_LIST = list(range(200_000))
# One list shared many times: little memory, an enormous rendering.
SHARED = "[" + ",".join(["l"] * 1000) + "]"


def peak_of(action: Callable[[], Any]) -> tuple[Any, int]:
    """What ``action`` returned or raised, and the peak of memory it allocated."""
    tracemalloc.start()
    try:
        try:
            outcome: Any = action()
        except ExpressionError as exc:
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def limit_error(source: str, env: dict[str, Any], limits: Limits | None = None) -> tuple[ExpressionError, int]:
    kwargs = {} if limits is None else {"limits": limits}
    outcome, peak = peak_of(lambda: evaluate(source, StrictEnv(env), **kwargs))
    assert isinstance(outcome, ExpressionError), outcome
    return outcome, peak


@pytest.mark.parametrize(
    "source",
    [
        f"str({SHARED})",
        f"json({SHARED})",
        "'" + "{{l}}" * 10 + "'",  # string interpolation renders each value
        SHARED,  # a result the log would have to store
    ],
    ids=["str", "json", "interpolation", "result"],
)
def test_a_value_that_renders_beyond_the_limit_fails_before_it_is_built(source: str) -> None:
    err, peak = limit_error(source, {"l": BIG_LIST})
    assert err.code == "E-EXPR-LIMIT"
    # Checking a result visits its elements: the work budget may end the walk first.
    assert "L-EXPR-VALUE" in err.message or (source == SHARED and "L-EXPR-WORK" in err.message)
    assert peak < 200 * MB


def test_comparing_a_huge_value_with_a_string_renders_no_more_than_the_string() -> None:
    # The compatibility rule of §5.5 compares renderings; only len("x") characters are needed.
    outcome, peak = peak_of(lambda: evaluate(f"{SHARED} == 'x'", StrictEnv({"l": BIG_LIST})).value)
    assert outcome is False
    assert peak < 20 * MB


def test_a_huge_non_boolean_condition_is_described_without_serializing_it() -> None:
    outcome, peak = peak_of(lambda: evaluate_condition(f"not {SHARED}", StrictEnv({"l": BIG_LIST})))
    assert isinstance(outcome, ExpressionError)
    assert outcome.code == "E-EXPR-NOT-BOOLEAN"
    assert "<list of 1000 elements>" in outcome.message
    assert peak < 20 * MB


def test_string_concatenation_is_refused_from_the_operands_sizes() -> None:
    half = "a" * 600_000
    err, peak = limit_error("x + x", {"x": half})
    assert err.message == (
        "string concatenation would be 1200000 characters; the limit is 1048576 characters (L-EXPR-VALUE)"
    )
    assert peak < 1_000_000  # the 1.2 MB result was never allocated


def test_list_concatenation_is_refused_from_the_operands_sizes() -> None:
    err, peak = limit_error("x + x", {"x": list(range(150_000))})
    assert err.message == "list concatenation would have 300000 elements; the limit is 200000 (L-EXPR-VALUE)"
    assert peak < 1_000_000  # the 2.4 MB list was never allocated


def test_a_value_exactly_at_the_limit_is_still_built() -> None:
    limits = Limits(expr_string=10)
    assert evaluate("x + x", StrictEnv({"x": "abcde"}), limits).value == "abcdeabcde"
    assert evaluate("str([1, 22, 333])", StrictEnv({}), limits).value == "[1 22 333]"
    with pytest.raises(ExpressionError, match="L-EXPR-VALUE"):
        evaluate("str([1, 22, 3333])", StrictEnv({}), limits)


def test_each_step_has_its_work_counted() -> None:
    """Every step of the 10,000 allowed may copy a 200,000-element list; without
    a work budget this runs for minutes. The budget counts work, not time, so the
    same expression fails at the same point on every machine."""
    source = " && ".join(["l + [] == l + []"] * 150)
    err, _ = limit_error(source, {"l": BIG_LIST})
    assert err.message == "evaluation exceeds 2000000 units of work (L-EXPR-WORK)"


def test_the_work_budget_is_configurable_and_deterministic() -> None:
    env = {"l": list(range(100))}
    source = "len(l + l) == 200"
    assert evaluate(source, StrictEnv(env), Limits(expr_work=1_000)).value is True
    for _ in range(2):
        with pytest.raises(ExpressionError, match=r"exceeds 150 units of work \(L-EXPR-WORK\)"):
            evaluate(source, StrictEnv(env), Limits(expr_work=150))


def test_membership_in_a_huge_list_is_counted() -> None:
    err, _ = limit_error("-1 in l", {"l": BIG_LIST}, Limits(expr_work=100_000))
    assert "L-EXPR-WORK" in err.message
    assert evaluate("-1 in l", StrictEnv({"l": BIG_LIST})).value is False


def test_the_step_limit_is_named() -> None:
    source = " + ".join(["1"] * 1000)
    with pytest.raises(ExpressionError, match=r"evaluation exceeds 100 steps \(L-EXPR-STEPS\)"):
        evaluate(source, StrictEnv({}), Limits(expr_steps=100))
