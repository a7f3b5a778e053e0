"""Parameter lists (SPEC §2.6, §3.3.3): limits, duplicates, types, enums, valueFrom."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

from aether.model.decode import json_type
from aether.model.types import Parameter, ParameterBlock
from aether.model.validate.context import Context
from aether.model.validate.expressions import check_expression
from aether.model.validate.fields import schema_range
from aether.model.validate.names import check_name


class Role(Enum):
    """Where a parameter list is; decides which rules apply."""

    TEMPLATE_INPUTS = "template inputs"  # names are DNS-1123 (§3.3.2)
    INLINE_INPUTS = "inline inputs"
    ARGUMENTS = "arguments"
    OUTPUTS = "outputs"
    WORKFLOW_ARGUMENTS = "workflow arguments"  # valueFrom ignored (§2.4)
    LOOP_ARGUMENTS = "loop arguments"  # valueFrom ignored (§2.5.4)


def _is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


_FITS = {
    "string": lambda v: type(v) is str,
    "int": lambda v: type(v) is int or (type(v) is float and v.is_integer()),
    "float": _is_number,
    "number": _is_number,
    "bool": lambda v: type(v) is bool,
    "array": lambda v: isinstance(v, list | tuple),
    "object": lambda v: type(v) is dict,
    "any": lambda v: True,
}
_ALIASES = {"integer": "int", "boolean": "bool", "list": "array", "json": "object", "map": "object"}
KNOWN_TYPES = frozenset(_FITS) | frozenset(_ALIASES)


def value_fits(type_name: str, value: Any) -> bool:
    """SPEC §4.1's fit of a literal to a known declared type."""
    return bool(_FITS[_ALIASES.get(type_name, type_name)](value))


def _json_equal(a: Any, b: Any) -> bool:
    # Booleans are not numbers; 1 and 1.0 are the same number.
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _check_literal(ctx: Context, param: Parameter, field: str, value: Any, path: str, role: Role) -> None:
    if value is None:
        return
    if role is Role.LOOP_ARGUMENTS and isinstance(value, str) and "{{" in value:
        # Loop-argument values are interpolated with their type kept (§4.7): the text is
        # not the value.
        return
    declared = param.type
    if declared and declared in KNOWN_TYPES and not value_fits(declared, value):
        message = f'{field} of "{param.name}" is {json_type(value)}, declared {declared}'
        ctx.warn("W-PARAM-TYPE-MISMATCH", path, message)
    if param.enum is not None and not any(_json_equal(value, allowed) for allowed in param.enum):
        allowed_text = ", ".join(_shown(a) for a in param.enum)
        schema_range(ctx, path, field, _shown(value), f"must be one of [{allowed_text}]")


def _check_value_from(ctx: Context, param: Parameter, path: str, role: Role, template: str | None) -> None:
    value_from = param.value_from
    if value_from is None:
        return
    vf_path = f"{path}.valueFrom"
    if role is Role.WORKFLOW_ARGUMENTS:
        ctx.warn("W-ARG-VALUEFROM-IGNORED", vf_path, "valueFrom is ignored on workflow arguments")
        return
    if role is Role.LOOP_ARGUMENTS:
        # A §3.3.6 rule: prefixed with the loop's name.
        message = f'template "{template or ""}": valueFrom is ignored in loop arguments'
        ctx.warn("W-LOOP-ARG-VALUEFROM-IGNORED", vf_path, message)
        return
    sources = value_from.sources()
    if len(sources) > 1:
        ctx.warn("W-VALUEFROM-MULTIPLE", vf_path, f'valueFrom has several sources; "{sources[0]}" is used')
    check_expression(ctx, value_from.expression, f"{vf_path}.expression")


def check_parameters(
    ctx: Context, block: ParameterBlock | None, path: str, role: Role, template: str | None = None
) -> None:
    """Every rule on the ``parameters`` of an inputs/arguments/outputs object at ``path``."""
    if block is None or not block.parameters:
        return
    params_path = f"{path}.parameters"
    params = block.parameters
    limit = ctx.limits.params_per_list
    if len(params) > limit:
        ctx.error("E-PARAMS-LIMIT", params_path, f"{len(params)} parameters; the limit is {limit}")
    seen: set[str] = set()
    for i, param in enumerate(params):
        path_i = f"{params_path}[{i}]"
        if role is Role.TEMPLATE_INPUTS:
            check_name(
                ctx,
                param.name,
                f"{path_i}.name",
                "parameter name",
                "parameter name is required",
                prefix=f'template "{template or ""}" inputs: ',
            )
        if param.name:
            if param.name in seen:
                ctx.warn("W-PARAM-DUPLICATE", path_i, f'duplicate parameter name "{param.name}"')
            seen.add(param.name)
        # Literals are judged only against a declared type or enum.
        if param.type is not None or param.enum is not None:
            if param.type and param.type not in KNOWN_TYPES:
                ctx.warn("W-PARAM-TYPE-UNKNOWN", f"{path_i}.type", f'unknown parameter type "{param.type}"')
            _check_literal(ctx, param, "value", param.value, f"{path_i}.value", role)
            _check_literal(ctx, param, "default", param.default, f"{path_i}.default", role)
        if param.value_from is not None:
            _check_value_from(ctx, param, path_i, role, template)
