"""Field tables of the document classes, derived once from their attrs definitions.

The decoder, the unknown-key suggestions and the converter all read these tables, so
the attrs classes in :mod:`aether.model.types` stay the single description of the wire
format: the wire name of a field is its camelCase name unless its metadata says
otherwise, and the field order is the order of the field tables of SPEC §2 (which is
also the tie-break order of §2.2's suggestions).
"""

from __future__ import annotations

import types
import typing
from functools import cache
from typing import Any, Literal

import attrs
from attrs import frozen

from aether.model import types as model

# What a field accepts. Free-form kinds ("any", "any_list", "any_map", "str_map") never
# report unknown keys inside their values (SPEC §2.2).
Kind = Literal[
    "str",
    "int",
    "number",
    "bool",
    "any",
    "str_or_number",
    "str_or_int",
    "str_list",
    "any_list",
    "any_map",
    "str_map",
    "obj",
    "obj_list",
    "entrypoints",
]


class _NoValue:
    """A type no decoded JSON value has."""


@frozen
class FieldSpec:
    attr: str
    wire: str
    kind: Kind
    # The class of an "obj"/"obj_list" field, and its table.
    target: type | None = None
    target_schema: ClassSchema | None = None
    # The one Python type a value of a plain scalar field may have, so the decoder can
    # take it without further checks; ``_NoValue`` for the other kinds.
    exact: type = _NoValue


_EXACT: dict[str, type] = {"str": str, "int": int, "bool": bool}


@frozen
class ClassSchema:
    cls: type
    fields: tuple[FieldSpec, ...]
    by_wire: dict[str, FieldSpec]
    # Lower-cased wire name -> wire name, for the key-case rule of SPEC §2.1.
    by_lower: dict[str, str]

    # Wire names in field-table order (the tie-break order of §2.2's suggestions).
    wire_names: tuple[str, ...] = ()


def camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def wire_name(field: attrs.Attribute) -> str:
    explicit = field.metadata.get("wire")
    return explicit if isinstance(explicit, str) else camel(field.name)


def _strip_none(tp: Any) -> Any:
    """``X | None`` -> ``X``; other types unchanged."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
        return tuple(args)
    return tp


def _kind_of(cls: type, name: str, tp: Any) -> tuple[Kind, type | None]:
    if cls is model.DagTemplate and name == "entrypoints":
        return "entrypoints", None
    tp = _strip_none(tp)
    if isinstance(tp, tuple):
        members = set(tp)
        if members == {str, int, float}:
            return "str_or_number", None
        if members == {str, int}:
            return "str_or_int", None
        raise TypeError(f"unsupported union in {cls.__name__}.{name}: {tp}")
    if tp is Any:
        return "any", None
    if tp in (str, int, bool):
        return typing.cast(Kind, tp.__name__), None
    if tp is float:
        return "number", None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is tuple:
        item = args[0]
        if item is str:
            return "str_list", None
        if item is Any:
            return "any_list", None
        if attrs.has(item):
            return "obj_list", item
    if origin is dict:
        return ("str_map", None) if args[1] is str else ("any_map", None)
    if isinstance(tp, type) and attrs.has(tp):
        return "obj", tp
    raise TypeError(f"unsupported field type {cls.__name__}.{name}: {tp}")


@cache
def schema_of(cls: type) -> ClassSchema:
    hints = typing.get_type_hints(cls, vars(model))
    specs: list[FieldSpec] = []
    for field in attrs.fields(cls):
        kind, target = _kind_of(cls, field.name, hints[field.name])
        # The document classes do not nest recursively, so this recursion ends.
        target_schema = schema_of(target) if target is not None else None
        exact = _EXACT.get(kind, _NoValue)
        specs.append(FieldSpec(field.name, wire_name(field), kind, target, target_schema, exact))
    by_wire = {f.wire: f for f in specs}
    by_lower = {f.wire.lower(): f.wire for f in specs}
    return ClassSchema(cls, tuple(specs), by_wire, by_lower, tuple(f.wire for f in specs))


DOCUMENT_CLASSES: dict[str, type] = {
    model.KIND_WORKFLOW: model.Workflow,
    model.KIND_CRON: model.CronWorkflow,
    model.KIND_TEMPLATE: model.WorkflowTemplate,
}
