"""Compiled expressions and the compile cache (SPEC §5.9: compiled expressions
are cached by source text; the cache never changes results)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from attrs import evolve

from aether.expr import errors
from aether.expr import nodes as n
from aether.expr.errors import ExpressionError
from aether.expr.evaluator import EvalResult, Fn, compile_node, run
from aether.expr.interpolate import Slot, split
from aether.expr.legacy import LegacyForm, evaluate_legacy, legacy_paths, split_legacy
from aether.expr.parser import parse
from aether.expr.printer import path_text
from aether.model.limits import DEFAULT_LIMITS, Limits

_CACHE_SIZE = 4096


class Compiled:
    """One compiled expression: the parsed tree and its closures, or the
    legacy form (SPEC §5.10) of a text that does not compile."""

    __slots__ = ("_fn", "_legacy_form", "_paths", "legacy", "legacy_reason", "limits", "source", "tree")

    def __init__(
        self,
        source: str,
        limits: Limits,
        tree: n.Node | None = None,
        legacy_form: LegacyForm | None = None,
        legacy_reason: str | None = None,
    ) -> None:
        self.source = source
        self.limits = limits
        self.tree = tree
        self.legacy = legacy_form is not None
        # For a legacy expression: the compile error it would otherwise be.
        self.legacy_reason = legacy_reason
        self._legacy_form = legacy_form
        self._fn: Fn | None = compile_node(tree) if tree is not None else None
        self._paths: tuple[str, ...] | None = None

    def evaluate(self, env: Mapping[str, Any]) -> EvalResult:
        """The value in ``env`` (flat dotted keys, SPEC §4.2), with the
        warnings of the evaluation. Raises ``ExpressionError``."""
        if self._fn is not None:
            return run(self._fn, env, self.limits)
        assert self._legacy_form is not None
        return EvalResult(evaluate_legacy(self._legacy_form, env))

    def paths(self) -> tuple[str, ...]:
        """The text of every path and placeholder path the expression reads, in
        source order, each once."""
        if self._paths is None:
            if self.tree is not None:
                self._paths = tuple(dict.fromkeys(_paths(self.tree)))
            else:
                assert self._legacy_form is not None
                self._paths = legacy_paths(self._legacy_form)
        return self._paths

    def __repr__(self) -> str:
        mode = ", legacy" if self.legacy else ""
        return f"Compiled({self.source!r}{mode})"


def _paths(root: n.Node) -> list[str]:
    out: list[str] = []
    # Children are pushed in reverse so they are visited in source order.
    stack: list[n.Node] = [root]
    while stack:
        node = stack.pop()
        children: list[n.Node] = []
        if isinstance(node, n.Path | n.Placeholder):
            path = node if isinstance(node, n.Path) else node.path
            out.append(path_text(path))
            children = [s.expr for s in path.steps if isinstance(s, n.Index)]
        elif isinstance(node, n.StrLit):
            out.extend(p.key for p in split(node.value) if isinstance(p, Slot) and p.candidates is not None)
        elif isinstance(node, n.Access):
            children = [node.target, *(s.expr for s in node.steps if isinstance(s, n.Index))]
        elif isinstance(node, n.Call):
            children = list(node.args)
        elif isinstance(node, n.ListLit):
            children = list(node.items)
        elif isinstance(node, n.Unary | n.Not):
            children = [node.operand]
        elif isinstance(node, n.Compare):
            children = [node.left, node.right]
        elif isinstance(node, n.Arith):
            children = [node.first, *(operand for _, operand in node.rest)]
        elif isinstance(node, n.Or | n.And):
            children = list(node.operands)
        stack.extend(reversed(children))
    return out


def too_long(source: str, limits: Limits) -> ExpressionError:
    return ExpressionError(
        errors.TOO_LONG, f"expression is {len(source)} characters; the limit is {limits.expr_length}"
    )


def build(source: str, limits: Limits = DEFAULT_LIMITS) -> Compiled:
    """Compile without the cache. Length, then depth and syntax; a text that
    does not compile but contains ``==`` or ``!=`` becomes a legacy
    expression."""
    if len(source) > limits.expr_length:
        raise too_long(source, limits)
    try:
        tree = parse(source, limits)
    except ExpressionError as exc:
        if exc.code in (errors.SYNTAX, errors.FUNCTION):
            form = split_legacy(source)
            if form is not None:
                return Compiled(source, limits, legacy_form=form, legacy_reason=exc.headline)
        raise
    return Compiled(source, limits, tree)


def _build_or_error(source: str, limits: Limits) -> Compiled | ExpressionError:
    try:
        return build(source, limits)
    except ExpressionError as exc:
        return exc


# The limits a compiled expression depends on: checked at compile, or carried
# into its evaluations.
_RELEVANT = (
    "expr_length",
    "expr_depth",
    "expr_steps",
    "expr_work",
    "expr_string",
    "expr_list",
    "expr_result_json",
    "value_depth",
    "regex_pattern",
    "regex_subject",
)


_DEFAULT_KEY = tuple(getattr(DEFAULT_LIMITS, name) for name in _RELEVANT)

# Relevant limits per Limits object, by identity: callers pass the same object
# (a run's limits) again and again, and reading every relevant attribute each time
# would cost more than the evaluation. The object is kept in the entry, so its
# id cannot be reused while the entry exists.
_KEYS: dict[int, tuple[Limits, tuple[int, ...]]] = {}
_KEYS_SIZE = 256


def _limits_key(limits: Limits) -> tuple[int, ...]:
    entry = _KEYS.get(id(limits))
    if entry is not None and entry[0] is limits:
        return entry[1]
    key = tuple(getattr(limits, name) for name in _RELEVANT)
    if len(_KEYS) >= _KEYS_SIZE:
        _KEYS.clear()
    _KEYS[id(limits)] = (limits, key)
    return key


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _cached_default(source: str) -> Compiled | ExpressionError:
    return _build_or_error(source, DEFAULT_LIMITS)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _cached(source: str, key: tuple[int, ...]) -> Compiled | ExpressionError:
    return _build_or_error(source, evolve(DEFAULT_LIMITS, **dict(zip(_RELEVANT, key, strict=True))))


def compile_expression(source: str, limits: Limits = DEFAULT_LIMITS) -> Compiled:
    """The compiled form of ``source``, from a bounded cache keyed by the source
    and the limits it depends on. Raises ``ExpressionError`` (E-EXPR-TOO-LONG,
    E-EXPR-TOO-DEEP, E-EXPR-SYNTAX, E-EXPR-FUNCTION)."""
    if len(source) > limits.expr_length:
        # Not cached: an over-long text would pin its size in the cache.
        raise too_long(source, limits)
    key = _DEFAULT_KEY if limits is DEFAULT_LIMITS else _limits_key(limits)
    result = _cached_default(source) if key == _DEFAULT_KEY else _cached(source, key)
    if isinstance(result, ExpressionError):
        raise result.copy()
    return result


def clear_cache() -> None:
    _cached_default.cache_clear()
    _cached.cache_clear()
    _KEYS.clear()
