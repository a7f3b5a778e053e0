"""Regular expressions of ``matches()`` (SPEC §5.6), run by RE2: matching
takes time linear in the subject whatever the pattern, so no pattern can
backtrack catastrophically. The features RE2 leaves out (backreferences,
lookaround) are refused with a message that names them."""

from __future__ import annotations

import functools
import importlib
import re
from typing import Any

import re2

from aether.expr import errors
from aether.expr.errors import ExpressionError
from aether.expr.values import render_quoted

# RE2 builds its automaton within this much memory; a pattern that needs more
# is refused instead of growing the engine's memory.
_MAX_PROGRAM_BYTES = 8 * 1024 * 1024

# Python's own regex parser, used only to name the feature RE2 refused.
# Private but present in every supported Python.
_sre: Any = importlib.import_module("re._parser")
_FEATURES = {
    "GROUPREF": "backreferences",
    "GROUPREF_EXISTS": "conditional groups",
    "GROUPREF_IGNORE": "backreferences",
    "GROUPREF_LOC_IGNORE": "backreferences",
    "GROUPREF_UNI_IGNORE": "backreferences",
    "ASSERT": "lookahead and lookbehind",
    "ASSERT_NOT": "lookahead and lookbehind",
    "ATOMIC_GROUP": "atomic groups",
    "POSSESSIVE_REPEAT": "possessive quantifiers",
}


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _MAX_PROGRAM_BYTES
    return options


_OPTIONS = _options()


def regex_error(pattern: str, reason: str) -> ExpressionError:
    return ExpressionError(errors.REGEX, f"invalid pattern {render_quoted(pattern)}: {reason}")


@functools.lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> Any:
    """The compiled RE2 pattern, or the E-EXPR-REGEX error that refuses it
    (a value, so that the cache keeps refusals too)."""
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        return regex_error(pattern, _reason(pattern, exc))
    except UnicodeEncodeError:
        return regex_error(pattern, "the pattern is not valid Unicode (it holds a lone surrogate)")


def _reason(pattern: str, exc: Exception) -> str:
    feature = unsupported_feature(pattern)
    if feature is not None:
        return f"{feature} are not supported (patterns are RE2 syntax, which matches in linear time)"
    detail = exc.args[0] if exc.args else exc
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    return str(detail) or "not a valid RE2 pattern"


def unsupported_feature(pattern: str) -> str | None:
    """The Python-regex feature of ``pattern`` that RE2 does not have, if any."""
    try:
        parsed = _sre.parse(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return None
    stack = [parsed]
    while stack:
        for op, av in stack.pop().data:
            feature = _FEATURES.get(str(op))
            if feature is not None:
                return feature
            stack.extend(_subpatterns(av))
    return None


def _subpatterns(av: Any) -> list[Any]:
    found: list[Any] = []
    stack = [av]
    while stack:
        item = stack.pop()
        if isinstance(item, _sre.SubPattern):
            found.append(item)
        elif isinstance(item, tuple | list):
            stack.extend(item)
    return found
