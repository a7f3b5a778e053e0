"""The entry points other layers call: evaluate, evaluate as a condition,
print, and the default ``ExpressionEvaluator`` of SPEC §15."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aether.expr import nodes as n
from aether.expr.compiler import Compiled, compile_expression
from aether.expr.evaluator import EvalResult
from aether.expr.printer import pretty_node
from aether.expr.values import as_condition
from aether.model.limits import DEFAULT_LIMITS, Limits


def _compiled(expr: str | Compiled, limits: Limits) -> Compiled:
    return expr if isinstance(expr, Compiled) else compile_expression(expr, limits)


def evaluate(expr: str | Compiled, env: Mapping[str, Any], limits: Limits = DEFAULT_LIMITS) -> EvalResult:
    """The value of ``expr`` in ``env``. ``limits`` applies when ``expr`` is
    text; a ``Compiled`` keeps the limits it was compiled with."""
    return _compiled(expr, limits).evaluate(env)


def evaluate_condition(expr: str | Compiled, env: Mapping[str, Any], limits: Limits = DEFAULT_LIMITS) -> EvalResult:
    """``expr`` in a boolean context (SPEC §5.7): the value is a ``bool``. A
    blank text is true, like an absent condition."""
    if isinstance(expr, str) and not expr.strip():
        return EvalResult(True)
    result = _compiled(expr, limits).evaluate(env)
    if result.value is True or result.value is False:
        return result
    return EvalResult(as_condition(result.value), result.warnings)


def pretty(expr: Compiled | n.Node) -> str:
    """The canonical text of a compiled expression (or a tree); it parses back
    to an equal tree. A legacy expression has no tree: its source is returned."""
    if isinstance(expr, Compiled):
        if expr.tree is None:
            return expr.source
        return pretty_node(expr.tree)
    return pretty_node(expr)


class LarkEvaluator:
    """The default ``ExpressionEvaluator`` (SPEC §15): pure, deterministic,
    thread-safe; honours the limits it is constructed with."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits

    def compile(self, source: str) -> Compiled:
        return compile_expression(source, self.limits)

    def evaluate(self, compiled: Compiled | str, env: Mapping[str, Any]) -> EvalResult:
        return _compiled(compiled, self.limits).evaluate(env)
