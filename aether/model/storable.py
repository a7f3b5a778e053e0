"""What the event log can store (SPEC §3.2 ``L-VALUE-DEPTH``, ``L-VALUE``): one rule,
applied where a value enters the log (a submitted document and its arguments, a task's
result), so that nothing reaches the codec that the codec would refuse.

The codec (orjson) refuses strings that are not valid Unicode (a lone surrogate),
integers outside ``[-2**63, 2**64 - 1]``, object keys that are not strings and nesting
deeper than 254; it silently writes a non-finite number as ``null``. The rule here
refuses each of those, and bounds nesting far below the codec's own ceiling by the named
limit, so that a value stays storable wherever an event embeds it.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from attrs import frozen

from aether.model.limits import Limits
from aether.model.paths import index_path

UNSTORABLE = "E-VALUE-UNSTORABLE"  # the problem code of a submitted value the log cannot store
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1
_SHOWN_DIGITS = 24


@frozen
class StorableProblem:
    path: str  # of the offending value, from the root the caller named
    message: str  # names the rule or the limit


def storable_problem(
    value: Any, limits: Limits, *, path: str = "$", max_bytes: int | None = None
) -> StorableProblem | None:
    """The first problem (in document order) that keeps ``value`` out of the log, or
    None. ``max_bytes`` bounds the compact JSON size (``L-VALUE`` for a result's value).
    Never raises, whatever the value: nesting is followed only as deep as the limit."""
    # Nearly every value is storable: the path-free check answers for those at a
    # fraction of the cost, and only a value it refuses is walked again for the path.
    problem = None if _storable(value, 1, limits.value_depth) else _walk(value, path, 1, limits.value_depth)
    if problem is not None or max_bytes is None:
        return problem
    size = len(orjson.dumps(value))
    if size > max_bytes:
        return StorableProblem(path, f"value is {size} bytes as JSON, over L-VALUE ({max_bytes} bytes)")
    return None


def safe_key_path(parent: str, key: str) -> str:
    """``paths.key_path``, with a key that is not valid Unicode written in escapes, so
    the path itself can be printed and stored."""
    from aether.model.paths import key_path

    if _unicode_error(key) is None:
        return key_path(parent, key)
    import json

    return f"{parent}[{json.dumps(key, ensure_ascii=True)}]"


def printable(text: str) -> str:
    """``text`` with every surrogate written as an escape, for messages."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if _unicode_error(text) is not None else text


def _storable(value: Any, depth: int, max_depth: int) -> bool:
    """Whether :func:`_walk` would find nothing wrong with ``value``, without building paths."""
    kind = type(value)
    if kind is str:
        return value.isascii() or _unicode_error(value) is None
    if kind is dict:
        if depth > max_depth:
            return False
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or _unicode_error(key) is None):
                return False
            if not _storable(item, depth + 1, max_depth):
                return False
        return True
    if kind is list:
        if depth > max_depth:
            return False
        return all(_storable(item, depth + 1, max_depth) for item in value)
    if value is None or kind is bool:
        return True
    if kind is int:
        return INT_MIN <= value <= INT_MAX
    if kind is float:
        return math.isfinite(value)
    return _walk(value, "$", depth, max_depth) is None  # any other kind: the careful way


def _walk(value: Any, path: str, depth: int, max_depth: int) -> StorableProblem | None:
    kind = type(value)
    if kind is str:
        bad = _unicode_error(value)
        return None if bad is None else StorableProblem(path, f"string is not valid Unicode: {bad}")
    if value is None or kind is bool:
        return None
    if isinstance(value, int):
        if INT_MIN <= value <= INT_MAX:
            return None
        return StorableProblem(
            path, f"integer {_show_int(value)} is outside the range the log stores ({INT_MIN} to {INT_MAX})"
        )
    if isinstance(value, float):
        return None if math.isfinite(value) else StorableProblem(path, f"number {value} is not finite")
    if isinstance(value, dict | list | tuple):
        if depth > max_depth:
            return StorableProblem(path, f"nesting is deeper than L-VALUE-DEPTH ({max_depth} levels)")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    return StorableProblem(path, f"object key {key!r} is not a string")
                bad = _unicode_error(key)
                item_path = safe_key_path(path, key)
                if bad is not None:
                    return StorableProblem(item_path, f"key is not valid Unicode: {bad}")
                found = _walk(item, item_path, depth + 1, max_depth)
                if found is not None:
                    return found
            return None
        for index, item in enumerate(value):
            found = _walk(item, index_path(path, index), depth + 1, max_depth)
            if found is not None:
                return found
        return None
    return StorableProblem(path, f"a {kind.__name__} is not a JSON value")


def _unicode_error(text: str) -> str | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"lone surrogate U+{ord(text[exc.start]):04X} at character {exc.start}"
    return None


def _show_int(value: int) -> str:
    # str() of an integer beyond 4300 digits raises; its size is what matters here.
    digits = int(abs(value).bit_length() * 0.30103) + 1
    if digits <= _SHOWN_DIGITS:
        return str(value)
    return f"of about {digits} digits"
