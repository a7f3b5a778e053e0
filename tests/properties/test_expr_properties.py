"""Properties of the expression language (SPEC §5): printing and parsing agree,
evaluation is deterministic, comparisons agree with Python, and a whole
placeholder keeps the JSON type of its value (§4.7 rule 2)."""

from __future__ import annotations

import contextlib
import math
import operator
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from aether.expr import (
    ExpressionError,
    compile_expression,
    evaluate,
    interpolate_string,
    interpolate_typed,
    pretty,
    render,
)
from aether.expr import nodes as n
from aether.expr.compiler import build
from aether.expr.functions import FUNCTIONS
from aether.expr.printer import path_text
from aether.model.limits import Limits

pytestmark = pytest.mark.spec("4.7", "5")

# Room for any generated tree; the default limits are tested elsewhere.
ROOMY = Limits(expr_length=1_000_000, expr_depth=10_000)

KEYWORDS = {"true", "false", "null", "and", "or", "not", "in"}
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FINITE = st.floats(allow_nan=False, allow_infinity=False)

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}(-[A-Za-z0-9_]{1,3}){0,2}", fullmatch=True).filter(
    lambda s: s.split("-")[0] not in KEYWORDS
)
segments = st.from_regex(r"[A-Za-z0-9_]{1,6}(-[A-Za-z0-9_]{1,3}){0,1}", fullmatch=True)

literals: st.SearchStrategy[n.Node] = st.one_of(
    INT64.map(n.IntLit),
    FINITE.map(n.FloatLit),
    st.text(max_size=12).map(n.StrLit),
    st.booleans().map(n.BoolLit),
    st.just(n.NullLit()),
)


def _placeholder(path: n.Path) -> n.Placeholder:
    return n.Placeholder(path, "{{" + path_text(path) + "}}")


_KINDS = (
    "path",
    "placeholder",
    "access",
    "call",
    "list",
    "unary",
    "not",
    "compare",
    "additive",
    "multiplicative",
    "or",
    "and",
)


@st.composite
def trees(draw: st.DrawFn, depth: int = 4) -> n.Node:
    """A random expression tree; every kind of node is equally likely at each
    level, so rare shapes (a step after a parenthesised path) do turn up."""
    if depth == 0 or draw(st.integers(0, 4)) == 0:
        return draw(st.one_of(literals, st.builds(n.Path, names)))
    child = trees(depth - 1)
    kind = draw(st.sampled_from(_KINDS))
    if kind in ("path", "placeholder", "access"):
        steps = tuple(
            draw(st.lists(st.one_of(segments.map(n.Field), child.map(n.Index)), min_size=kind == "access", max_size=3))
        )
        if kind == "access":
            # Targets that print like a path or a number need parentheses.
            target = draw(st.one_of(st.builds(n.Path, names), literals, child))
            return n.Access(target, steps)
        path = n.Path(draw(names), steps)
        return path if kind == "path" else _placeholder(path)
    if kind == "call":
        name = draw(st.sampled_from(sorted(FUNCTIONS)))
        return n.Call(name, tuple(draw(child) for _ in range(FUNCTIONS[name].arity)))
    if kind == "list":
        return n.ListLit(tuple(draw(st.lists(child, max_size=3))))
    if kind == "unary":
        return n.Unary(draw(st.sampled_from(["-", "+"])), draw(child))
    if kind == "not":
        return n.Not(draw(child))
    if kind == "compare":
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"]))
        return n.Compare(op, draw(child), draw(child))
    if kind in ("additive", "multiplicative"):
        ops = ["+", "-"] if kind == "additive" else ["*", "/", "%"]
        rest = draw(st.lists(st.tuples(st.sampled_from(ops), child), min_size=1, max_size=3))
        return n.Arith(draw(child), tuple(rest))
    operands = tuple(draw(st.lists(child, min_size=2, max_size=3)))
    return n.Or(operands) if kind == "or" else n.And(operands)


@given(trees())
def test_pretty_output_parses_back_to_the_same_tree(tree: n.Node) -> None:
    text = pretty(tree)
    compiled = compile_expression(text, ROOMY)
    assert not compiled.legacy, text
    assert compiled.tree == tree, text
    assert pretty(compiled) == text


# --- determinism ----------------------------------------------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), INT64, FINITE, st.text(max_size=8))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=10,
)
# Paths of the generator's alphabet, so that some lookups hit.
env_keys = st.one_of(names, st.builds(lambda a, b: f"{a}.{b}", names, segments))
envs = st.dictionaries(env_keys, json_values, max_size=6)


def _outcome(run: Callable[[], Any]) -> tuple[str, Any]:
    try:
        result = run()
    except ExpressionError as exc:
        return ("error", (exc.code, str(exc)))
    return ("value", (render(result.value), type(result.value), result.warnings))


@given(trees(), envs)
def test_evaluation_is_deterministic(tree: n.Node, env: dict[str, Any]) -> None:
    text = pretty(tree)
    compiled = compile_expression(text, ROOMY)
    first = _outcome(lambda: compiled.evaluate(env))
    assert _outcome(lambda: compiled.evaluate(env)) == first
    assert _outcome(lambda: build(text, ROOMY).evaluate(env)) == first
    assert _outcome(lambda: evaluate(text, dict(reversed(list(env.items()))), ROOMY)) == first


# --- comparisons agree with Python -------------------------------------------------------------

_OPS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
numbers = st.one_of(INT64, FINITE)


@given(st.one_of(st.tuples(numbers, numbers), st.tuples(st.text(), st.text())), st.sampled_from(sorted(_OPS)))
def test_comparisons_agree_with_python(pair: tuple[Any, Any], op: str) -> None:
    a, b = pair
    assert evaluate(f"a {op} b", {"a": a, "b": b}).value is _OPS[op](a, b)


@given(numbers, numbers, st.sampled_from(sorted(_OPS)))
def test_comparisons_of_literals_agree_with_python(a: float, b: float, op: str) -> None:
    assume(math.isfinite(a) and math.isfinite(b))
    source = f"{pretty(n.IntLit(a) if type(a) is int else n.FloatLit(a))} {op} " + pretty(
        n.IntLit(b) if type(b) is int else n.FloatLit(b)
    )
    assert evaluate(source, {}).value is _OPS[op](a, b)


# --- interpolation keeps the JSON type -----------------------------------------------------------


def _same_json(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


@given(json_values, st.sampled_from(["{{inputs.parameters.v}}", "{{ inputs.parameters.v }}"]))
def test_whole_placeholder_keeps_the_json_type(value: Any, text: str) -> None:
    env = {"inputs.parameters.v": value}
    assert _same_json(interpolate_typed(text, env), value)
    assert _same_json(evaluate(text, env).value, value)
    assert interpolate_string(text, env) == (value if isinstance(value, str) else render(value))


# --- robustness -----------------------------------------------------------------------------

expression_text = st.lists(
    st.sampled_from([*list("ab1._-'\"\\{}[]()!=<>+*/%&|, \n"), "in", "not", "true", "null", "{{", "}}", "==", "len"]),
    max_size=30,
).map("".join)


@given(expression_text, envs)
def test_any_text_compiles_or_raises_an_expression_error(text: str, env: dict[str, Any]) -> None:
    try:
        compiled = compile_expression(text)
    except ExpressionError as exc:
        assert exc.code in {"E-EXPR-SYNTAX", "E-EXPR-FUNCTION", "E-EXPR-TOO-DEEP"}
        if exc.code != "E-EXPR-TOO-DEEP":
            assert exc.line is not None and exc.column is not None and exc.excerpt is not None
        return
    assert compiled.legacy == (compiled.tree is None)
    with contextlib.suppress(ExpressionError):
        compiled.evaluate(env)
    assert isinstance(interpolate_string(text, env), str)
