"""The operators of SPEC §5.5 on values, the value ranges of §5.2, the
L-EXPR-VALUE limit, and navigation into lists and objects (§5.3). Pure
functions of values; the evaluator decides when to call them."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from aether.expr import errors
from aether.expr.budget import Budget, string_too_long
from aether.expr.errors import ExpressionError
from aether.expr.values import is_list, is_number, is_object, type_name, values_equal
from aether.model.limits import Limits

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def check_int(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ExpressionError(errors.OVERFLOW, "integer result is outside the 64-bit range")
    return value


def check_float(value: float) -> float:
    if not math.isfinite(value):
        raise ExpressionError(errors.OVERFLOW, "float result is not finite")
    return value


def check_string(limits: Limits, value: str) -> str:
    if len(value) > limits.expr_string:
        raise ExpressionError(
            errors.LIMIT,
            f"string result is {len(value)} characters; the limit is {limits.expr_string} (L-EXPR-VALUE)",
        )
    return value


def check_list(limits: Limits, value: list[Any]) -> list[Any]:
    if len(value) > limits.expr_list:
        raise ExpressionError(
            errors.LIMIT, f"list result has {len(value)} elements; the limit is {limits.expr_list} (L-EXPR-VALUE)"
        )
    return value


def charge_equality(budget: Budget, a: Any, b: Any) -> None:
    """Equality of two lists or objects visits their elements pairwise."""
    if (is_list(a) and is_list(b)) or (is_object(a) and is_object(b)):
        budget.charge(min(len(a), len(b)))


def contains(budget: Budget, container: Any, item: Any, what: str) -> bool:
    """``item in container`` (SPEC §5.5 ``in``, §5.6 ``contains``)."""
    if type(container) is str and type(item) is str:
        budget.charge_chars(len(container))
        return item in container
    if is_list(container):
        budget.charge(len(container))
        return any(values_equal(item, element) for element in container)
    if is_object(container) and type(item) is str:
        return item in container
    raise ExpressionError(errors.TYPE, f"{what}: cannot look for {type_name(item)} in {type_name(container)}")


def _numbers(op: str, a: Any, b: Any) -> None:
    if not (is_number(a) and is_number(b)):
        raise ExpressionError(errors.TYPE, f'cannot apply "{op}" to {type_name(a)} and {type_name(b)}')


def op_add(budget: Budget, a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return check_int(a + b)
    if is_number(a) and is_number(b):
        return check_float(a + b)
    limits = budget.limits
    # The size is known from the operands: refuse before allocating.
    if ta is str and tb is str:
        if len(a) + len(b) > limits.expr_string:
            raise string_too_long(limits, "string concatenation", len(a) + len(b))
        budget.charge_chars(len(a) + len(b))
        return a + b
    if is_list(a) and is_list(b):
        if len(a) + len(b) > limits.expr_list:
            raise ExpressionError(
                errors.LIMIT,
                f"list concatenation would have {len(a) + len(b)} elements; "
                f"the limit is {limits.expr_list} (L-EXPR-VALUE)",
            )
        budget.charge(len(a) + len(b))
        return [*a, *b]
    raise ExpressionError(errors.TYPE, f'cannot apply "+" to {type_name(a)} and {type_name(b)}')


def op_sub(_: Budget, a: Any, b: Any) -> Any:
    _numbers("-", a, b)
    return check_int(a - b) if type(a) is int and type(b) is int else check_float(a - b)


def op_mul(_: Budget, a: Any, b: Any) -> Any:
    _numbers("*", a, b)
    return check_int(a * b) if type(a) is int and type(b) is int else check_float(a * b)


def op_div(_: Budget, a: Any, b: Any) -> Any:
    _numbers("/", a, b)
    if b == 0:
        raise ExpressionError(errors.DIV_ZERO, "division by zero")
    try:
        return check_float(a / b)
    except OverflowError:
        raise ExpressionError(errors.OVERFLOW, "float result is not finite") from None


def op_mod(_: Budget, a: Any, b: Any) -> Any:
    _numbers("%", a, b)
    if b == 0:
        raise ExpressionError(errors.DIV_ZERO, "modulo by zero")
    return check_int(a % b) if type(a) is int and type(b) is int else check_float(a % b)


ARITH: dict[str, Callable[[Budget, Any, Any], Any]] = {
    "+": op_add,
    "-": op_sub,
    "*": op_mul,
    "/": op_div,
    "%": op_mod,
}


def _looks_numeric(value: Any) -> bool:
    if type(value) is not str:
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def check_ordered(op: str, a: Any, b: Any) -> None:
    """Check that ``a op b`` compares two numbers or two strings."""
    if (is_number(a) and is_number(b)) or (type(a) is str and type(b) is str):
        return
    hint = ""
    if _looks_numeric(a) or _looks_numeric(b):
        hint = "; use int() or float() to compare a numeric string as a number"
    raise ExpressionError(errors.TYPE, f'cannot compare {type_name(a)} and {type_name(b)} with "{op}"{hint}')


# --- navigation ----------------------------------------------------------------
# A step that cannot be followed is a lookup failure (SPEC §5.3): E-EXPR-KEY for a
# field, E-EXPR-INDEX for a list index, whatever the value it is applied to, so
# that `default()` absorbs it. Only an index of the wrong type is E-EXPR-TYPE.


def get_field(value: Any, name: str, where: str) -> Any:
    if is_object(value):
        if name in value:
            return value[name]
        raise ExpressionError(errors.KEY, f'no key "{name}" in object (reading "{where}")')
    raise ExpressionError(errors.KEY, f'{type_name(value)} has no field "{name}" (reading "{where}")')


def get_index(value: Any, key: Any, where: str) -> Any:
    if type(key) is int:
        if is_list(value):
            size = len(value)
            if -size <= key < size:
                return value[key]
            raise ExpressionError(errors.INDEX, f'index {key} is out of range for a list of {size} (reading "{where}")')
        raise ExpressionError(errors.INDEX, f'{type_name(value)} cannot be indexed by position (reading "{where}")')
    if type(key) is str:
        if is_object(value):
            if key in value:
                return value[key]
            raise ExpressionError(errors.KEY, f'no key "{key}" in object (reading "{where}")')
        raise ExpressionError(errors.KEY, f'{type_name(value)} has no key "{key}" (reading "{where}")')
    raise ExpressionError(
        errors.TYPE, f'an index must be an integer or a string, not {type_name(key)} (reading "{where}")'
    )
