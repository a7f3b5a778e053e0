"""The one cattrs converter of the document classes: wire names, ``None`` omitted.

``dump_document`` gives the wire JSON form of a document (what ``WorkflowSubmitted``
records); ``structure`` turns such data back into classes. Untrusted input goes through
:func:`aether.model.load_document` instead, which reports problems rather than raising.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from aether.model import types as model
from aether.model.schema import schema_of

T = TypeVar("T")


def _entrypoints(value: Any, _: Any) -> tuple[str, ...]:
    # DagTemplate.entrypoints: a string is a one-element list (SPEC §2.5.1).
    return (value,) if isinstance(value, str) else tuple(value)


def _passthrough(value: Any, _: Any) -> Any:
    return value


def _document_classes() -> list[type]:
    return [obj for obj in vars(model).values() if isinstance(obj, type) and attrs.has(obj)]


def _is_scalar_union(tp: Any) -> bool:
    # ``str | int | float | None`` and friends: JSON scalars are kept as they are.
    args = set(getattr(tp, "__args__", ()))
    return bool(args) and args <= {str, int, float, type(None)} and len(args - {type(None)}) > 1


@cache
def converter() -> cattrs.Converter:
    conv = cattrs.Converter(unstruct_collection_overrides={tuple: list})
    conv.register_structure_hook(Any, _passthrough)
    # Numbers keep their JSON type (``factor: 2`` stays the integer 2).
    conv.register_structure_hook(float, _passthrough)
    conv.register_structure_hook_func(_is_scalar_union, _passthrough)
    for cls in _document_classes():
        schema = schema_of(cls)
        renames: dict[str, Any] = {f.attr: override(rename=f.wire) for f in schema.fields}
        unstructure_overrides = dict(renames)
        structure_overrides = dict(renames)
        if cls is model.DagTemplate:
            structure_overrides["entrypoints"] = override(rename="entrypoints", struct_hook=_entrypoints)
        conv.register_unstructure_hook(
            cls, make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **unstructure_overrides)
        )
        conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv, **structure_overrides))
    return conv


def structure(data: Any, cls: type[T]) -> T:
    """Wire data (as produced by :func:`dump_document`) -> an instance of ``cls``."""
    result: T = converter().structure(data, cls)
    return result


def unstructure(obj: Any) -> Any:
    """Any document object -> its wire form."""
    return converter().unstructure(obj)


def dump_document(doc: Any) -> dict[str, Any]:
    """The wire JSON form of a document: camelCase keys, absent fields omitted."""
    out: dict[str, Any] = converter().unstructure(doc)
    return out
