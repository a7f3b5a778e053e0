"""The functions of SPEC §5.6, except ``default``, which is lazy in its second
argument and so is built by the evaluator.

Each implementation takes the evaluation's budget (and through it the limits
in force) first, then its arguments."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from attrs import frozen

from aether.expr import errors
from aether.expr.budget import Budget, json_size_at_least, render_within, string_too_long
from aether.expr.errors import ExpressionError
from aether.expr.operators import check_float, check_int, contains
from aether.expr.regex import compile_regex, regex_error
from aether.expr.values import (
    is_list,
    is_number,
    is_object,
    render_quoted,
    to_compact_json,
    type_name,
)

_INT_TEXT = re.compile(r"\s*[+-]?[0-9]+\s*", re.ASCII)
_FLOAT_TEXT = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*", re.ASCII)


def _type_error(fn: str, *args: Any) -> ExpressionError:
    kinds = ", ".join(type_name(a) for a in args)
    return ExpressionError(errors.TYPE, f"{fn}() does not accept ({kinds})")


def fn_len(budget: Budget, x: Any) -> int:
    if isinstance(x, str) or is_list(x) or is_object(x):
        return len(x)
    raise _type_error("len", x)


def fn_int(budget: Budget, x: Any) -> int:
    if x is True or x is False:
        return 1 if x else 0
    t = type(x)
    if t is int:
        return check_int(x)
    if t is float:
        return check_int(math.trunc(x))
    if t is str and _INT_TEXT.fullmatch(x):
        digits = x.strip().lstrip("+-").lstrip("0")
        if len(digits) > 19:
            raise ExpressionError(errors.OVERFLOW, "integer result is outside the 64-bit range")
        return check_int(int(x))
    if t is str:
        raise ExpressionError(errors.TYPE, f"int() cannot convert the string {render_quoted(x)}")
    raise _type_error("int", x)


def fn_float(budget: Budget, x: Any) -> float:
    if is_number(x):
        return check_float(float(x))
    if type(x) is str and _FLOAT_TEXT.fullmatch(x):
        return check_float(float(x))
    if type(x) is str:
        raise ExpressionError(errors.TYPE, f"float() cannot convert the string {render_quoted(x)}")
    raise _type_error("float", x)


def fn_str(budget: Budget, x: Any) -> str:
    text = render_within(x, budget.limits.expr_string, budget)
    if text is None:
        raise string_too_long(budget.limits, "str() result")
    return text


def fn_bool(budget: Budget, x: Any) -> bool:
    if x is True or x is False:
        return x
    if x is None:
        return False
    if type(x) is str:
        return x == "true"
    if is_number(x):
        return x != 0
    if is_list(x) or is_object(x):
        return len(x) > 0
    raise _type_error("bool", x)


def fn_lower(budget: Budget, s: Any) -> str:
    if type(s) is not str:
        raise _type_error("lower", s)
    budget.charge_chars(len(s))
    return s.lower()


def fn_upper(budget: Budget, s: Any) -> str:
    if type(s) is not str:
        raise _type_error("upper", s)
    budget.charge_chars(len(s))
    return s.upper()


def fn_contains(budget: Budget, a: Any, b: Any) -> bool:
    return contains(budget, a, b, "contains()")


def fn_starts_with(budget: Budget, s: Any, p: Any) -> bool:
    if type(s) is not str or type(p) is not str:
        raise _type_error("startsWith", s, p)
    return s.startswith(p)


def fn_ends_with(budget: Budget, s: Any, p: Any) -> bool:
    if type(s) is not str or type(p) is not str:
        raise _type_error("endsWith", s, p)
    return s.endswith(p)


def fn_matches(budget: Budget, s: Any, pattern: Any) -> bool:
    if type(s) is not str or type(pattern) is not str:
        raise _type_error("matches", s, pattern)
    limits = budget.limits
    if len(pattern) > limits.regex_pattern:
        raise ExpressionError(
            errors.LIMIT,
            f"matches() pattern is {len(pattern)} characters; the limit is {limits.regex_pattern} (L-REGEX)",
        )
    if len(s) > limits.regex_subject:
        raise ExpressionError(
            errors.LIMIT,
            f"matches() subject is {len(s)} characters; the limit is {limits.regex_subject} (L-REGEX)",
        )
    compiled = compile_regex(pattern)
    if isinstance(compiled, ExpressionError):
        raise compiled.copy()
    budget.charge_chars(len(s))
    try:
        return compiled.search(s) is not None
    except UnicodeEncodeError:
        raise regex_error(pattern, "the subject is not valid Unicode (it holds a lone surrogate)") from None


def fn_json(budget: Budget, x: Any) -> str:
    limit = budget.limits.expr_string
    if json_size_at_least(x, limit, budget) > limit:
        raise string_too_long(budget.limits, "json() result")
    try:
        return to_compact_json(x)
    except (TypeError, ValueError) as exc:
        raise ExpressionError(errors.TYPE, f"json(): {exc}") from None


def _built_by_the_evaluator(_: Budget, *args: Any) -> Any:
    raise AssertionError("default() is compiled by the evaluator")


@frozen
class Function:
    name: str
    arity: int
    impl: Callable[..., Any]
    # Produces a new string whose size L-EXPR-VALUE bounds.
    produces_string: bool = False


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("len", 1, fn_len),
        Function("int", 1, fn_int),
        Function("float", 1, fn_float),
        Function("str", 1, fn_str, produces_string=True),
        Function("bool", 1, fn_bool),
        Function("lower", 1, fn_lower, produces_string=True),
        Function("upper", 1, fn_upper, produces_string=True),
        Function("contains", 2, fn_contains),
        Function("startsWith", 2, fn_starts_with),
        Function("endsWith", 2, fn_ends_with),
        Function("matches", 2, fn_matches),
        Function("json", 1, fn_json, produces_string=True),
        # Lazy in its second argument, so the evaluator builds it (SPEC §5.6).
        Function("default", 2, _built_by_the_evaluator),
    )
}
