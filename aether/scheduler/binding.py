"""Parameter binding (SPEC §4.3, §4.4): declarations + arguments + environment → bound inputs.

Binding never fails a node: a ``valueFrom`` that cannot be resolved falls back to the
declaration's default (or no value) and leaves a warning naming the parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson

from aether.events.values import BoundParameter, SecretRef
from aether.expr import ExpressionError, evaluate, lookup
from aether.model.decode import json_type
from aether.model.json_value import JSON
from aether.model.limits import Limits
from aether.model.types import Parameter, ValueFrom

_TYPE_FITS = {
    "string": lambda v: isinstance(v, str),
    "int": lambda v: _is_int(v) or (isinstance(v, float) and v.is_integer()),
    "integer": lambda v: _is_int(v) or (isinstance(v, float) and v.is_integer()),
    "float": lambda v: _is_number(v),
    "number": lambda v: _is_number(v),
    "bool": lambda v: isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "list": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "json": lambda v: isinstance(v, dict),
    "map": lambda v: isinstance(v, dict),
}


def _is_int(value: JSON) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: JSON) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def type_mismatch(param_type: str | None, value: JSON) -> bool:
    """True when a known declared type does not fit the value (W-PARAM-TYPE-MISMATCH)."""
    if param_type is None:
        return False
    fits = _TYPE_FITS.get(param_type)
    return fits is not None and not fits(value)


class _Resolved:
    __slots__ = ("ok", "secret", "value", "warning")

    def __init__(
        self, ok: bool, value: JSON = None, secret: SecretRef | None = None, warning: str | None = None
    ) -> None:
        self.ok = ok
        self.value = value
        self.secret = secret
        self.warning = warning


def resolve_value_from(source: ValueFrom, env: Mapping[str, JSON], limits: Limits, name: str) -> _Resolved:
    """SPEC §4.3: the first non-empty of path, parameter, expression, secretKeyRef."""
    if source.path:
        return _lookup(source.path, env, name)
    if source.parameter:
        return _lookup(source.parameter, env, name)
    if source.expression:
        try:
            result = evaluate(source.expression, env, limits)
        except ExpressionError as exc:
            return _Resolved(False, warning=f'parameter "{name}": valueFrom.expression failed: {exc}')
        return _Resolved(True, result.value)
    if source.secret_key_ref is not None:
        ref = source.secret_key_ref
        return _Resolved(True, secret=SecretRef(ref.name, ref.key))
    return _Resolved(False, warning=f'parameter "{name}": valueFrom has no source')


def _lookup(path: str, env: Mapping[str, JSON], name: str) -> _Resolved:
    found, value = lookup(env, path.strip())
    if not found:
        return _Resolved(False, warning=f'parameter "{name}": "{path}" is not defined')
    return _Resolved(True, value)


def _too_large(value: JSON, limits: Limits) -> bool:
    if isinstance(value, str):
        return len(value) * 4 > limits.value_bytes and len(value.encode()) + 2 > limits.value_bytes
    if isinstance(value, list | dict):
        return len(orjson.dumps(value)) > limits.value_bytes
    return False


def bind(
    declarations: Sequence[Parameter],
    arguments: Sequence[Parameter],
    env: Mapping[str, JSON],
    limits: Limits,
) -> tuple[tuple[BoundParameter, ...], tuple[str, ...]]:
    """SPEC §4.4: declarations in order, then pass-through arguments in order."""
    warnings: list[str] = []
    last_argument: dict[str, Parameter] = {}
    for argument in arguments:
        last_argument[argument.name] = argument
    declared = set()
    bound: list[BoundParameter] = []
    for decl in declarations:
        declared.add(decl.name)
        param = _bind_declared(decl, last_argument.get(decl.name), env, limits, warnings)
        bound.append(param)
    emitted: set[str] = set()
    for argument in arguments:
        if argument.name in declared or argument.name in emitted:
            continue
        emitted.add(argument.name)
        argument = last_argument[argument.name]
        bound.append(_bind_pass_through(argument, env, limits, warnings))
    for param in bound:
        if param.has_value and type_mismatch(param.type, param.value):
            warnings.append(
                f'W-PARAM-TYPE-MISMATCH: value of "{param.name}" is {json_type(param.value)}, declared {param.type}'
            )
    return tuple(bound), tuple(warnings)


def _bind_declared(
    decl: Parameter, arg: Parameter | None, env: Mapping[str, JSON], limits: Limits, warnings: list[str]
) -> BoundParameter:
    base = BoundParameter(
        name=decl.name,
        type=decl.type,
        description=decl.description,
        enum=decl.enum,
        default=decl.default,
    )
    default = decl.default
    for source in (arg, decl):
        if source is None:
            continue
        if source.value is not None:
            return base.with_value(source.value)
        if source.value_from is not None:
            resolved = resolve_value_from(source.value_from, env, limits, decl.name)
            outcome = _accept(resolved, base, limits, warnings)
            if outcome is not None:
                return outcome
            return base.with_value(default) if default is not None else base
    if default is not None:
        return base.with_value(default)
    return base


def _bind_pass_through(arg: Parameter, env: Mapping[str, JSON], limits: Limits, warnings: list[str]) -> BoundParameter:
    base = BoundParameter(name=arg.name, type=arg.type)
    if arg.value is not None:
        return base.with_value(arg.value)
    if arg.value_from is not None:
        resolved = resolve_value_from(arg.value_from, env, limits, arg.name)
        outcome = _accept(resolved, base, limits, warnings)
        if outcome is not None:
            return outcome
    return base


def _accept(resolved: _Resolved, base: BoundParameter, limits: Limits, warnings: list[str]) -> BoundParameter | None:
    """The bound parameter for a resolved ``valueFrom``, or None on a binding failure."""
    if not resolved.ok:
        if resolved.warning:
            warnings.append("W-BINDING: " + resolved.warning)
        return None
    if resolved.secret is not None:
        return BoundParameter(
            name=base.name,
            type=base.type,
            description=base.description,
            enum=base.enum,
            default=base.default,
            secret_key_ref=resolved.secret,
        )
    if _too_large(resolved.value, limits):
        warnings.append(f'W-BINDING: parameter "{base.name}": value exceeds {limits.value_bytes} bytes')
        return None
    return base.with_value(resolved.value)


def merge_payload(inputs: tuple[BoundParameter, ...], payload: Mapping[str, JSON]) -> tuple[BoundParameter, ...]:
    """SPEC §11.2: same name replaced in place, new names appended in payload order."""
    merged = list(inputs)
    positions = {param.name: i for i, param in enumerate(merged)}
    for name, value in payload.items():
        if name in positions:
            merged[positions[name]] = merged[positions[name]].with_value(value)
        else:
            positions[name] = len(merged)
            merged.append(BoundParameter(name=name, value=value, has_value=True))
    return tuple(merged)
