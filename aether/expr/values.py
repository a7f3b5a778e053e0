"""JSON values as the expression language sees them: rendering as text (SPEC
§4.8), compact JSON (§5.6 ``json()``), equality (§5.5) and boolean conversion
(§5.7).

Lists may arrive as ``list`` or ``tuple`` and objects as any ``Mapping`` (the
projections keep immutable containers); both are treated alike. ``bool`` is a
subclass of ``int`` in Python, so every type test here looks at booleans first."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from decimal import Context, Decimal
from typing import Any

from aether.expr import errors
from aether.expr.errors import ExpressionError

# Enough precision for the 17 significant digits of any float64 repr.
_DECIMAL = Context(prec=40)


def is_list(value: Any) -> bool:
    return type(value) is list or isinstance(value, tuple)


def is_object(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def is_number(value: Any) -> bool:
    """Integers and floats; booleans are not numbers (SPEC §5.5)."""
    t = type(value)
    return t is int or t is float


def type_name(value: Any) -> str:
    """The JSON type of a value, for messages."""
    if value is None:
        return "null"
    t = type(value)
    if t is bool:
        return "boolean"
    if t is int:
        return "integer"
    if t is float:
        return "float"
    if t is str:
        return "string"
    if is_list(value):
        return "list"
    if is_object(value):
        return "object"
    return t.__name__


def render_float(x: float) -> str:
    """Go ``%v`` of a float64, by the reference algorithm of SPEC §4.8."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    d = Decimal(repr(x)).normalize(_DECIMAL)
    t = d.as_tuple()
    digits = "".join(map(str, t.digits))
    assert isinstance(t.exponent, int)
    e = len(t.digits) - 1 + t.exponent
    if e < -4 or e >= 6:
        sign = "-" if t.sign else ""
        frac = "." + digits[1:] if digits[1:] else ""
        return f"{sign}{digits[0]}{frac}e{'+' if e >= 0 else '-'}{abs(e):02d}"
    return format(d, "f")


def render_scalar(value: Any) -> str:
    if value is None:
        return "<nil>"
    t = type(value)
    if t is str:
        return value
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return str(value)
    if t is float:
        return render_float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return render_float(float(value))
    return str(value)


def render(value: Any) -> str:
    """The text of a value (SPEC §4.8). Never raises; iterative, so a deeply
    nested value cannot exhaust the stack."""
    if not (is_list(value) or is_object(value)):
        return render_scalar(value)
    out: list[str] = []
    # A stack of pending work: a value to render, or literal text to emit.
    stack: list[tuple[bool, Any]] = [(False, value)]
    while stack:
        is_text, item = stack.pop()
        if is_text:
            out.append(item)
        elif is_list(item):
            parts: list[tuple[bool, Any]] = [(True, "[")]
            for i, element in enumerate(item):
                if i:
                    parts.append((True, " "))
                parts.append((False, element))
            parts.append((True, "]"))
            stack.extend(reversed(parts))
        elif is_object(item):
            parts = [(True, "map[")]
            for i, key in enumerate(sorted(item.keys(), key=str)):
                if i:
                    parts.append((True, " "))
                parts.append((True, f"{key}:"))
                parts.append((False, item[key]))
            parts.append((True, "]"))
            stack.extend(reversed(parts))
        else:
            out.append(render_scalar(item))
    return "".join(out)


def render_bounded(value: Any, limit: int) -> tuple[str | None, int]:
    """The text of ``value`` (SPEC §4.8) and the number of values visited; the
    text is None as soon as it would exceed ``limit`` characters, so a value
    that shares one large list many times is never rendered in full."""
    if not (is_list(value) or is_object(value)):
        text = render_scalar(value)
        return (text if len(text) <= limit else None), 1
    out: list[str] = []
    size = 0
    visited = 0
    # Each frame: the elements still to render of one list or object (an
    # object's as ``key:value`` pairs in key order), and the text closing it.
    stack: list[Iterator[tuple[str, Any]]] = [_children(value)]
    out.append("[" if is_list(value) else "map[")
    size = len(out[0])
    while stack:
        for prefix, item in stack[-1]:
            visited += 1
            if prefix:
                out.append(prefix)
                size += len(prefix)
            if is_list(item) or is_object(item):
                opening = "[" if is_list(item) else "map["
                out.append(opening)
                size += len(opening)
                stack.append(_children(item))
                break
            piece = render_scalar(item)
            out.append(piece)
            size += len(piece)
            if size > limit:
                return None, visited
        else:
            stack.pop()
            out.append("]")
            size += 1
        if size > limit:
            return None, visited
    return "".join(out), visited


def _children(value: Any) -> Iterator[tuple[str, Any]]:
    """The elements of a list or object with the text that precedes each."""
    if is_list(value):
        return ((" " if i else "", element) for i, element in enumerate(value))
    keys = sorted(value.keys(), key=str)
    return ((f"{' ' if i else ''}{key}:", value[key]) for i, key in enumerate(keys))


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def to_compact_json(value: Any) -> str:
    """Compact JSON text (SPEC §5.6 ``json()``): separators ``,`` and ``:``,
    object keys in their stored order, non-ASCII characters kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default)


def values_equal(a: Any, b: Any) -> bool:
    """``a == b`` by the equality rules of SPEC §5.5. Never raises."""
    if a is b:
        # Values are immutable while an expression runs and never NaN, so a
        # value shared many times compares in one step.
        return True
    ta, tb = type(a), type(b)
    if ta is str and tb is str:
        return a == b
    a_num, b_num = ta is int or ta is float, tb is int or tb is float
    if a_num and b_num:
        return a == b
    if ta is bool and tb is bool:
        return a is b
    if a is None and b is None:
        return True
    if ta is str or tb is str:
        # Compatibility rule: one string and one non-string compare by rendering.
        if isinstance(a, str) and isinstance(b, str):
            return str(a) == str(b)
        # The rendering of the non-string side need not go past the string's length.
        text, other = (a, b) if isinstance(a, str) else (b, a)
        rendered, _ = render_bounded(other, len(text))
        return rendered == text
    if is_list(a) and is_list(b):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if is_object(a) and is_object(b):
        if len(a) != len(b):
            return False
        return all(key in b and values_equal(a[key], b[key]) for key in a)
    return False


def as_condition(value: Any) -> bool:
    """A value in a boolean context (SPEC §5.7): a boolean is itself, a string
    is true only if it is exactly ``"true"``, null is false; anything else is
    ``E-EXPR-NOT-BOOLEAN``."""
    if value is True or value is False:
        return value
    if value is None:
        return False
    if type(value) is str:
        return value == "true"
    raise ExpressionError(
        errors.NOT_BOOLEAN,
        f'expected a boolean (or the string "true"), got {type_name(value)} {render_short(value)}',
    )


def render_short(value: Any, limit: int = 60) -> str:
    """A value for a message: JSON text, shortened. A value too large to
    show is not serialized at all."""
    if (is_list(value) or is_object(value)) and render_bounded(value, 4 * limit)[0] is None:
        return f"<{type_name(value)} of {len(value)} elements>"
    try:
        text = to_compact_json(value)
    except (TypeError, ValueError, RecursionError):
        text = render(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_quoted(s: str, limit: int = 40) -> str:
    """A string for a message, quoted and shortened."""
    text = s if len(s) <= limit else s[: limit - 3] + "..."
    return f'"{text}"'
