"""The functions of SPEC §5.6, except ``default``, which is lazy in its second
argument and so is built by the evaluator.

Each implementation takes the limits in force first, then its arguments."""

from __future__ import annotations

import functools
import importlib
import math
import re
from collections.abc import Callable
from typing import Any

from attrs import frozen

from aether.expr import errors
from aether.expr.errors import ExpressionError
from aether.expr.operators import check_float, check_int, contains
from aether.expr.values import (
    is_list,
    is_number,
    is_object,
    render,
    to_compact_json,
    type_name,
)
from aether.model.limits import Limits

_INT_TEXT = re.compile(r"\s*[+-]?[0-9]+\s*", re.ASCII)
_FLOAT_TEXT = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*", re.ASCII)


def _type_error(fn: str, *args: Any) -> ExpressionError:
    kinds = ", ".join(type_name(a) for a in args)
    return ExpressionError(errors.TYPE, f"{fn}() does not accept ({kinds})")


def fn_len(_: Limits, x: Any) -> int:
    if isinstance(x, str) or is_list(x) or is_object(x):
        return len(x)
    raise _type_error("len", x)


def fn_int(_: Limits, x: Any) -> int:
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


def fn_float(_: Limits, x: Any) -> float:
    if is_number(x):
        return check_float(float(x))
    if type(x) is str and _FLOAT_TEXT.fullmatch(x):
        return check_float(float(x))
    if type(x) is str:
        raise ExpressionError(errors.TYPE, f"float() cannot convert the string {render_quoted(x)}")
    raise _type_error("float", x)


def fn_str(_: Limits, x: Any) -> str:
    return render(x)


def fn_bool(_: Limits, x: Any) -> bool:
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


def fn_lower(_: Limits, s: Any) -> str:
    if type(s) is not str:
        raise _type_error("lower", s)
    return s.lower()


def fn_upper(_: Limits, s: Any) -> str:
    if type(s) is not str:
        raise _type_error("upper", s)
    return s.upper()


def fn_contains(_: Limits, a: Any, b: Any) -> bool:
    return contains(a, b, "contains()")


def fn_starts_with(_: Limits, s: Any, p: Any) -> bool:
    if type(s) is not str or type(p) is not str:
        raise _type_error("startsWith", s, p)
    return s.startswith(p)


def fn_ends_with(_: Limits, s: Any, p: Any) -> bool:
    if type(s) is not str or type(p) is not str:
        raise _type_error("endsWith", s, p)
    return s.endswith(p)


def fn_matches(limits: Limits, s: Any, pattern: Any) -> bool:
    if type(s) is not str or type(pattern) is not str:
        raise _type_error("matches", s, pattern)
    if len(pattern) > limits.regex_pattern:
        raise ExpressionError(
            errors.LIMIT,
            f"matches() pattern is {len(pattern)} characters; the limit is {limits.regex_pattern}",
        )
    if len(s) > limits.regex_subject:
        raise ExpressionError(
            errors.LIMIT,
            f"matches() subject is {len(s)} characters; the limit is {limits.regex_subject}",
        )
    compiled = compile_regex(pattern)
    if isinstance(compiled, ExpressionError):
        raise compiled.copy()
    return compiled.search(s) is not None


def fn_json(_: Limits, x: Any) -> str:
    try:
        return to_compact_json(x)
    except (TypeError, ValueError) as exc:
        raise ExpressionError(errors.TYPE, f"json(): {exc}") from None


def render_quoted(s: str, limit: int = 40) -> str:
    text = s if len(s) <= limit else s[: limit - 3] + "..."
    return f'"{text}"'


# --- regular expressions ---------------------------------------------------

# The parser of the `re` module, so the checks below judge exactly the
# structure `re` will run. Private but present in every supported Python.
_sre: Any = importlib.import_module("re._parser")
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_BACKREFS = frozenset({"GROUPREF", "GROUPREF_EXISTS", "GROUPREF_IGNORE", "GROUPREF_LOC_IGNORE", "GROUPREF_UNI_IGNORE"})
_LOOKAROUND = frozenset({"ASSERT", "ASSERT_NOT"})


def _subpatterns(av: Any) -> list[Any]:
    """The nested sub-patterns inside an opcode's argument."""
    found: list[Any] = []
    stack = [av]
    while stack:
        item = stack.pop()
        if isinstance(item, _sre.SubPattern):
            found.append(item)
        elif isinstance(item, tuple | list):
            stack.extend(item)
    return found


def _has_repeat(pattern: Any) -> bool:
    stack = [pattern]
    while stack:
        for op, av in stack.pop().data:
            if str(op) in _REPEATS:
                return True
            stack.extend(_subpatterns(av))
    return False


def _unsafe_construct(pattern: Any) -> str | None:
    """Why the parsed pattern is refused, or None. Backreferences and
    lookaround are refused outright; a repeat that can run more than once
    around something that itself repeats is the shape of catastrophic
    backtracking (``(a+)+``). An outer ``?`` runs its body at most once, so
    ``(\\.[0-9]+)?`` is allowed."""
    stack = [pattern]
    while stack:
        for op, av in stack.pop().data:
            name = str(op)
            if name in _BACKREFS:
                return "backreferences are not supported"
            if name in _LOOKAROUND:
                return "lookahead and lookbehind are not supported"
            if name in _REPEATS:
                _, high, body = av
                if high > 1 and _has_repeat(body):
                    return "a repeated group must not contain a quantifier"
            stack.extend(_subpatterns(av))
    return None


@functools.lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> re.Pattern[str] | ExpressionError:
    """The compiled pattern, or the E-EXPR-REGEX error that refuses it."""
    try:
        parsed = _sre.parse(pattern)
    except re.error as exc:
        return _regex_error(pattern, str(exc))
    except (RecursionError, OverflowError, ValueError) as exc:
        return _regex_error(pattern, str(exc) or "pattern too complex")
    reason = _unsafe_construct(parsed)
    if reason is not None:
        return _regex_error(pattern, reason)
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        return _regex_error(pattern, str(exc) or "pattern too complex")


def _regex_error(pattern: str, reason: str) -> ExpressionError:
    return ExpressionError(errors.REGEX, f"invalid pattern {render_quoted(pattern)}: {reason}")


def _built_by_the_evaluator(_: Limits, *args: Any) -> Any:
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
