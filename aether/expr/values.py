"""JSON values as the expression language sees them: rendering as text (SPEC
§4.8), compact JSON (§5.6 ``json()``), equality (§5.5) and boolean conversion
(§5.7).

Lists may arrive as ``list`` or ``tuple`` and objects as any ``Mapping`` (the
projections keep immutable containers); both are treated alike. ``bool`` is a
subclass of ``int`` in Python, so every type test here looks at booleans first."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
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


def _render_scalar(value: Any) -> str:
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
        return _render_scalar(value)
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
            out.append(_render_scalar(item))
    return "".join(out)


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
        return render(a) == render(b)
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
    """A value for a message: JSON text, shortened."""
    try:
        text = to_compact_json(value)
    except (TypeError, ValueError, RecursionError):
        text = render(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
