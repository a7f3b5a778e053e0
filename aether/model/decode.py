"""Raw JSON data -> document classes, with the decoding problems of SPEC §2.1 and §2.2.

One pass over the data builds the frozen instances directly from the field tables of
:mod:`aether.model.schema` and reports, at their paths: values of the wrong JSON type
(E-TYPE, the value is then treated as absent), unknown keys (W-UNKNOWN-KEY with a
suggestion), keys in another case (W-KEY-CASE; the last spelling wins), duplicate keys
(W-DUPLICATE-KEY; the source parser already kept the last value) and a badly typed
``dag.entrypoints`` (W-DAG-ENTRYPOINTS-TYPE). ``null`` is absent everywhere.

A malformed element of an array of objects is replaced by an empty object rather than
dropped, so the indexes in later problem paths still point at the source.
"""

from __future__ import annotations

from typing import Any

from aether.model.paths import index_path, key_path
from aether.model.problems import Problem, error, warning
from aether.model.schema import ClassSchema, FieldSpec, schema_of
from aether.model.suggest import unknown_key_message


class _Drop:
    """Marker: the value was rejected and the field stays absent."""


_DROP: Any = _Drop()

_EXPECTED = {
    "str": "string",
    "int": "integer",
    "number": "number",
    "bool": "boolean",
    "str_or_number": "string or number",
    "str_or_int": "string or integer",
    "str_list": "array",
    "any_list": "array",
    "any_map": "object",
    "str_map": "object",
    "obj": "object",
    "obj_list": "array",
}


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value, as used in E-TYPE messages."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is bool:
        return "boolean"
    if kind is int:
        return "integer"
    if kind is float:
        return "number"
    if kind is str:
        return "string"
    if kind is list or kind is tuple:
        return "array"
    if kind is dict:
        return "object"
    return kind.__name__


class Decoder:
    def __init__(self, duplicates: dict[int, tuple[str, ...]] | None = None) -> None:
        self.duplicates = duplicates or {}
        self.problems: list[Problem] = []

    # --- problems ---------------------------------------------------------------------

    def _type_error(self, path: str, label: str, expected: str, value: Any) -> None:
        self.problems.append(error("E-TYPE", path, f"{label} must be {expected}, got {json_type(value)}"))

    def _duplicates(self, raw: dict[str, Any], path: str) -> None:
        for key in self.duplicates.get(id(raw), ()):
            self.problems.append(
                warning("W-DUPLICATE-KEY", key_path(path, key), f'duplicate key "{key}"; the last value is used')
            )

    def _free_form(self, value: Any, path: str) -> None:
        """Duplicate keys inside free-form content (no key there is ever unknown)."""
        if isinstance(value, dict):
            if id(value) in self.duplicates:
                self._duplicates(value, path)
            for key, item in value.items():
                if isinstance(item, dict | list):
                    self._free_form(item, key_path(path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict | list):
                    self._free_form(item, index_path(path, i))

    # --- objects ----------------------------------------------------------------------

    def decode(self, raw: dict[str, Any], cls: type, path: str = "$") -> Any:
        return self._object(schema_of(cls), raw, path)

    def _object(self, schema: ClassSchema, raw: dict[str, Any], path: str) -> Any:
        by_wire = schema.by_wire
        free_form_plain = not self.duplicates
        kwargs: dict[str, Any] = {}
        for key, value in raw.items():
            spec = by_wire.get(key)
            # The common cases first, without a call: a well-typed scalar, or free-form
            # content when the source had no duplicate keys to look for inside it.
            if spec is not None:
                if type(value) is spec.exact or (spec.kind == "any" and free_form_plain and value is not None):
                    kwargs[spec.attr] = value
                    continue
            else:
                wire = schema.by_lower.get(key.lower())
                if wire is None:
                    message = unknown_key_message(key, schema.wire_names)
                    self.problems.append(warning("W-UNKNOWN-KEY", key_path(path, key), message))
                    continue
                self.problems.append(warning("W-KEY-CASE", key_path(path, key), f'key "{key}" taken as "{wire}"'))
                spec = by_wire[wire]
            assert spec is not None
            if value is None:
                kwargs.pop(spec.attr, None)
                continue
            decoded = self._field(spec, value, path)
            if decoded is _DROP:
                kwargs.pop(spec.attr, None)
            else:
                kwargs[spec.attr] = decoded
        if self.duplicates and id(raw) in self.duplicates:
            self._duplicates(raw, path)
        return schema.cls(**kwargs)

    def _field(self, spec: FieldSpec, value: Any, parent: str) -> Any:
        kind = spec.kind
        tp = type(value)
        if kind == "str":
            if tp is str:
                return value
        elif kind == "obj":
            if tp is dict:
                assert spec.target_schema is not None
                # Wire names are plain keys, so the path needs no quoting (paths.key_path).
                return self._object(spec.target_schema, value, f"{parent}.{spec.wire}")
        elif kind == "obj_list":
            if tp is list:
                return self._object_list(spec, value, f"{parent}.{spec.wire}")
        elif kind == "str_list":
            if tp is list:
                return self._string_list(spec, value, key_path(parent, spec.wire))
        elif kind == "any":
            if self.duplicates and (tp is dict or tp is list):
                self._free_form(value, key_path(parent, spec.wire))
            return value
        elif kind == "int":
            if tp is int:
                return value
        elif kind == "bool":
            if tp is bool:
                return value
        elif kind == "number":
            if tp is int or tp is float:
                return value
        elif kind == "any_list":
            if tp is list:
                if self.duplicates:
                    self._free_form(value, key_path(parent, spec.wire))
                return tuple(value)
        elif kind == "any_map":
            if tp is dict:
                if self.duplicates:
                    self._free_form(value, key_path(parent, spec.wire))
                return value
        elif kind == "str_map":
            if tp is dict:
                return self._string_map(spec, value, key_path(parent, spec.wire))
        elif kind == "str_or_number":
            if tp is str or tp is int or tp is float:
                return value
        elif kind == "str_or_int":
            if tp is str or tp is int:
                return value
        elif kind == "entrypoints":
            return self._entrypoints(value, key_path(parent, spec.wire))
        self._type_error(key_path(parent, spec.wire), spec.wire, _EXPECTED[kind], value)
        return _DROP

    def _object_list(self, spec: FieldSpec, items: list[Any], path: str) -> tuple[Any, ...]:
        schema = spec.target_schema
        assert schema is not None
        out = []
        for i, item in enumerate(items):
            if type(item) is dict:
                out.append(self._object(schema, item, f"{path}[{i}]"))
            else:
                self._type_error(f"{path}[{i}]", f"{spec.wire}[{i}]", "object", item)
                out.append(schema.cls())
        return tuple(out)

    def _string_list(self, spec: FieldSpec, items: list[Any], path: str) -> Any:
        bad = False
        for i, item in enumerate(items):
            if type(item) is not str:
                self._type_error(f"{path}[{i}]", f"{spec.wire}[{i}]", "string", item)
                bad = True
        return _DROP if bad else tuple(items)

    def _string_map(self, spec: FieldSpec, value: dict[str, Any], path: str) -> dict[str, str]:
        if self.duplicates and id(value) in self.duplicates:
            self._duplicates(value, path)
        out: dict[str, str] = {}
        for key, item in value.items():
            if type(item) is str:
                out[key] = item
            elif item is not None:
                self._type_error(key_path(path, key), key, "string", item)
        return out

    def _entrypoints(self, value: Any, path: str) -> Any:
        if type(value) is str:
            return (value,)
        if type(value) is list and all(type(item) is str for item in value):
            return tuple(value)
        # SPEC §2.5.1: any other JSON type is ignored, with a warning rather than E-TYPE.
        message = "entrypoints must be a string or a list of strings; ignored"
        self.problems.append(warning("W-DAG-ENTRYPOINTS-TYPE", path, message))
        return _DROP


def decode(
    raw: dict[str, Any], cls: type, *, duplicates: dict[int, tuple[str, ...]] | None = None, path: str = "$"
) -> tuple[Any, list[Problem]]:
    """Decode ``raw`` as ``cls``; returns the instance and the decoding problems."""
    decoder = Decoder(duplicates)
    return decoder.decode(raw, cls, path), decoder.problems
