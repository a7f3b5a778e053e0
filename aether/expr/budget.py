"""What one evaluation may spend (SPEC §3.2 L-EXPR-STEPS, L-EXPR-WORK,
L-EXPR-VALUE): the counters, and the bounded walks that size a value before
anything is built from it.

A value built by an expression can share one large list many times over
(``[l, l, l]``), so its rendering can be far larger than the memory it holds.
Every walk here therefore stops as soon as its budget is spent instead of
producing the text and measuring it afterwards."""

from __future__ import annotations

from typing import Any

from aether.expr import errors
from aether.expr.errors import ExpressionError
from aether.expr.values import is_list, is_object, render_bounded
from aether.model.limits import Limits

# Characters copied or scanned by C code are cheap next to values visited by
# Python code; they are charged in blocks of this many.
CHARS_PER_UNIT = 64

# The integers the event log stores (the codec's 64-bit range: signed or unsigned).
STORABLE_INT_MIN = -(2**63)
STORABLE_INT_MAX = 2**64 - 1


class Budget:
    """The counters of one evaluation. Deterministic: it counts work, it never
    reads a clock."""

    __slots__ = ("limits", "max_steps", "max_work", "steps", "work")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.max_steps = limits.expr_steps
        self.max_work = limits.expr_work
        self.steps = 0
        self.work = 0

    def too_many_steps(self) -> None:
        raise ExpressionError(errors.LIMIT, f"evaluation exceeds {self.max_steps} steps (L-EXPR-STEPS)")

    def charge(self, units: int) -> None:
        """Spend ``units`` of L-EXPR-WORK."""
        self.work += units
        if self.work > self.max_work:
            raise ExpressionError(errors.LIMIT, f"evaluation exceeds {self.max_work} units of work (L-EXPR-WORK)")

    def charge_chars(self, count: int) -> None:
        self.charge(count // CHARS_PER_UNIT + 1)


def string_too_long(limits: Limits, what: str = "string result", length: int | None = None) -> ExpressionError:
    """E-EXPR-LIMIT for a string refused before it is built."""
    size = "more than the limit" if length is None else f"{length} characters"
    return ExpressionError(
        errors.LIMIT,
        f"{what} would be {size}; the limit is {limits.expr_string} characters (L-EXPR-VALUE)",
    )


def render_within(value: Any, limit: int, budget: Budget) -> str | None:
    """The text of ``value`` (SPEC §4.8), or None as soon as it would exceed
    ``limit`` characters; the values visited are charged to ``budget``."""
    text, visited = render_bounded(value, limit)
    budget.charge(visited)
    if text is not None:
        budget.charge_chars(len(text))
    return text


def _json_scalar_size(value: Any) -> int:
    """The length of a scalar's compact JSON; for a string a lower bound (its
    escapes can only add characters)."""
    if value is None:
        return 4
    if value is True:
        return 4
    if value is False:
        return 5
    t = type(value)
    if t is str:
        return len(value) + 2
    if t is int:
        return len(str(value))
    if t is float:
        return len(repr(value))
    return 1


def json_size_at_least(value: Any, limit: int, budget: Budget | None = None) -> int:
    """A lower bound of the length of ``value``'s compact JSON, exact but for
    string escapes; stops at the first count above ``limit``."""
    size = 0
    visited = 0
    stack = [value]
    while stack and size <= limit:
        item = stack.pop()
        visited += 1
        if is_list(item):
            size += 2 + max(len(item) - 1, 0)
            stack.extend(item)
        elif is_object(item):
            size += 2 + max(len(item) - 1, 0)
            for key, element in item.items():
                size += len(str(key)) + 3
                stack.append(element)
        else:
            size += _json_scalar_size(item)
    if budget is not None:
        budget.charge(visited)
    return size


def check_result(value: Any, budget: Budget) -> Any:
    """``value`` if the event log can store it (SPEC §5.9): valid Unicode,
    integers in the codec's 64-bit range, nesting within L-VALUE-DEPTH, compact
    JSON within L-EXPR-VALUE. Otherwise an expression error naming why."""
    t = type(value)
    if value is None or t is bool or t is float:
        return value
    if t is str:
        _check_text(value)
        return value
    if t is int:
        _check_int(value)
        return value
    limits = budget.limits
    max_size, max_depth = limits.expr_result_json, limits.value_depth
    size = 0
    containers: list[tuple[Any, int]] = [(value, 1)]
    while containers:
        container, depth = containers.pop()
        if depth > max_depth:
            raise ExpressionError(errors.LIMIT, f"the result nests deeper than {max_depth} levels (L-VALUE-DEPTH)")
        size += 2 + len(container)
        if is_object(container):
            for key in container:
                if type(key) is str:
                    _check_text(key)
                size += len(str(key)) + 3
            elements: Any = container.values()
        else:
            elements = container
        for item in elements:
            t = type(item)
            if t is str:
                _check_text(item)
                size += len(item)
            elif t is int:
                _check_int(item)
                size += 1
            elif is_list(item) or is_object(item):
                containers.append((item, depth + 1))
            else:
                size += 1
        budget.charge(len(container))
        if size > max_size:
            raise ExpressionError(
                errors.LIMIT, f"the result's compact JSON exceeds {max_size} characters (L-EXPR-VALUE)"
            )
    return value


def _check_int(value: int) -> None:
    if not STORABLE_INT_MIN <= value <= STORABLE_INT_MAX:
        raise ExpressionError(
            errors.OVERFLOW, "the result holds an integer outside the 64-bit range the event log stores"
        )


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        raise ExpressionError(
            errors.TYPE,
            f"the result holds a string that is not valid Unicode (lone surrogate U+{code:04X})",
        ) from None
