"""YAML 1.2 core-schema decoding (SPEC §2.1) on top of a composer: libyaml's, in C, for
the ASCII documents without directives it reads as YAML 1.2 does, else ruamel's (which also
explains every text either refuses).

The composers only build the node tree; scalars are resolved here, because its
resolvers follow neither schema exactly (its 1.2 integers accept ``0b1`` and ``1_000``,
and it resolves timestamps). Core schema: ``true``/``True``/``TRUE`` (and false) are
booleans; ``null``/``Null``/``NULL``/``~``/empty are null; integers and floats as in the
1.2 core regexes; ``yes``/``on``/dates are strings; ``.inf``/``.nan`` are rejected
(E-TYPE). Anchors and aliases are expanded (an aliased node becomes the same Python
value), merge keys are plain ``<<`` keys, keys must be strings, one document only.
"""

from __future__ import annotations

import functools
import io
import math
import re
from typing import Any

from attrs import define, field

from aether.model.paths import index_path, key_path
from aether.model.problems import Problem

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_NON_FINITE = "non-finite"
# The kinds of composed nodes (their ``id``, the same in both composers used here).
_SCALAR, _SEQUENCE, _MAPPING = "scalar", "sequence", "mapping"
# Longer integer texts are beyond any range the log stores, and Python refuses to convert them.
_MAX_INTEGER_DIGITS = 4000

_CORE_NULL = re.compile(r"(?:null|Null|NULL|~|)\Z")
_CORE_BOOL = re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z")
_CORE_INT = re.compile(r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z")
_CORE_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_CORE_NON_FINITE = re.compile(r"(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z")


def core_tag(value: str) -> str:
    """The core-schema tag of an untagged plain scalar."""
    if _CORE_NULL.match(value):
        return _NULL
    if _CORE_BOOL.match(value):
        return _BOOL
    if _CORE_INT.match(value):
        return _INT
    if _CORE_FLOAT.match(value):
        return _FLOAT
    if _CORE_NON_FINITE.match(value):
        return _NON_FINITE
    return _STR


def _core_resolver() -> type:
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
    from ruamel.yaml.resolver import BaseResolver
    from ruamel.yaml.tag import Tag

    class CoreResolver(BaseResolver):
        def __init__(self, version: Any = None, loader: Any = None, loadumper: Any = None) -> None:
            BaseResolver.__init__(self, loader if loader is not None else loadumper)

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is ScalarNode:
                return Tag(suffix=core_tag(value) if implicit[0] else _STR)
            if kind is SequenceNode:
                return Tag(suffix="tag:yaml.org,2002:seq")
            if kind is MappingNode:
                return Tag(suffix="tag:yaml.org,2002:map")
            return Tag(suffix=_STR)

        @property
        def processing_version(self) -> Any:
            return (1, 2)

    return CoreResolver


def _parse_int(text: str) -> int:
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


@define
class YamlDocument:
    data: Any
    root: Any
    duplicates: dict[int, tuple[str, ...]]
    problems: list[Problem]


class YamlParseError(Exception):
    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class MultiDocumentError(Exception):
    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count


class TooLargeError(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


@define
class _Converter:
    max_size: int
    duplicates: dict[int, tuple[str, ...]] = field(factory=dict)
    problems: list[Problem] = field(factory=list)
    _done: dict[int, Any] = field(factory=dict)
    _busy: set[int] = field(factory=set)
    _sizes: dict[int, int] = field(factory=dict)

    def expanded_size(self, node: Any) -> int:
        """Approximate length of the node's compact JSON with aliases expanded. Aliased
        nodes are sized once, so an alias bomb is measured without being expanded."""
        key = id(node)
        known = self._sizes.get(key)
        if known is not None:
            return known
        if key in self._busy:
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
            detail = "an alias refers to a node that contains it"
            raise YamlParseError(f"invalid YAML at line {line} column {column}: {detail}", line, column)
        self._busy.add(key)
        if node.id == _MAPPING:
            size = 2 + sum(self.expanded_size(k) + self.expanded_size(v) + 2 for k, v in node.value)
        elif node.id == _SEQUENCE:
            size = 2 + sum(self.expanded_size(item) + 1 for item in node.value)
        else:
            size = len(node.value) + 2
        self._busy.discard(key)
        if size > self.max_size:
            raise TooLargeError(size)
        self._sizes[key] = size
        return size

    def convert(self, node: Any, path: str) -> Any:
        key = id(node)
        if key in self._done:
            return self._done[key]
        value: Any
        if node.id == _MAPPING:
            value = self._mapping(node, path)
        elif node.id == _SEQUENCE:
            value = [self.convert(item, index_path(path, i)) for i, item in enumerate(node.value)]
        else:
            value = self._scalar(node, path)
        self._done[key] = value
        return value

    def _scalar(self, node: Any, path: str) -> Any:
        tag, text = node.tag, node.value
        if tag == _STR:
            return text
        if tag == _NULL:
            return None
        if tag == _BOOL and _CORE_BOOL.match(text):
            return text.lower() == "true"
        if tag == _INT and _CORE_INT.match(text):
            if len(text) > _MAX_INTEGER_DIGITS:
                message = f"integer of {len(text.lstrip('+-'))} digits is outside the range the log stores"
                self._at(node, "E-VALUE-UNSTORABLE", path, message)
                return None
            return _parse_int(text)
        if tag in (_FLOAT, _NON_FINITE, _INT) and _CORE_NON_FINITE.match(text):
            self._at(node, "E-TYPE", path, f"{_field_name(path)} must be a finite number, got {text}")
            return None
        if tag == _FLOAT and (_CORE_FLOAT.match(text) or _CORE_INT.match(text)):
            try:
                number = float(_parse_int(text)) if _CORE_INT.match(text) else float(text)
            except (ValueError, OverflowError):  # an integer text too long to convert or to fit
                number = math.inf
            if not math.isfinite(number):  # 1e999 overflows, as .inf is infinite
                self._at(node, "E-TYPE", path, f"{_field_name(path)} must be a finite number, got {text}")
                return None
            return number
        # Unknown or mismatching explicit tags: keep the text, which every string field
        # accepts and every other field reports as a type error.
        return text

    def _mapping(self, node: Any, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        counts: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.id != _SCALAR or key_node.tag != _STR:
                # At the key's own path: the mapping itself is kept.
                key_text = str(key_node.value) if key_node.id == _SCALAR else "?"
                message = f"keys must be strings, got {self._key_type(key_node)}"
                self._at(key_node, "E-TYPE", key_path(path, key_text), message)
                continue
            key = key_node.value
            child = self.convert(value_node, key_path(path, key))
            if key in out:
                counts[key] = counts.get(key, 1) + 1
                # The last occurrence wins and takes the last place in key order, which the
                # key-case rule of SPEC §2.1 relies on ("last in document order wins").
                del out[key]
            out[key] = child
        if counts:
            self.duplicates[id(out)] = tuple(counts)
        return out

    def _key_type(self, node: Any) -> str:
        if node.id == _SCALAR:
            kinds = {_INT: "integer", _FLOAT: "number", _NON_FINITE: "number", _BOOL: "boolean", _NULL: "null"}
            return f"{kinds.get(str(node.tag), 'string')} {node.value}".rstrip()
        return "object" if node.id == _MAPPING else "array"

    def _at(self, node: Any, code: str, path: str, message: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(code, "error", path, message, mark.line + 1, mark.column + 1))


def _field_name(path: str) -> str:
    tail = path.rsplit(".", 1)[-1]
    return tail if tail != "$" else "document"


def compose_yaml(text: str, max_expanded: int) -> YamlDocument:
    """Decode YAML text. Raises :class:`YamlParseError` (E-DOC-PARSE),
    :class:`MultiDocumentError` (E-DOC-MULTI) and :class:`TooLargeError`
    (E-DOC-TOO-LARGE after alias expansion)."""
    nodes = _compose_with_libyaml(text) if _libyaml_reads_alike(text) else None
    if nodes is None:
        nodes = _compose_with_ruamel(text)
    if len(nodes) > 1:
        raise MultiDocumentError(len(nodes))
    if not nodes:
        return YamlDocument(None, None, {}, [])
    converter = _Converter(max_expanded)
    converter.expanded_size(nodes[0])
    data = converter.convert(nodes[0], "$")
    return YamlDocument(data, nodes[0], converter.duplicates, converter.problems)


_DIRECTIVE = re.compile(r"^%", re.MULTILINE)


def _libyaml_reads_alike(text: str) -> bool:
    """Whether libyaml's parser (YAML 1.1) reads ``text`` as ruamel's (YAML 1.2) does, as far
    as a cheap look can tell: the two differ on non-ASCII line breaks and on directives."""
    return text.isascii() and _DIRECTIVE.search(text) is None


def _compose_with_libyaml(text: str) -> list[Any] | None:
    """The node trees of ``text`` composed in C (an order of magnitude faster than ruamel's
    pure-Python composer on a large document), with scalars tagged by the core schema;
    None when libyaml is not installed or refuses the text, which ruamel then reads and,
    if it refuses it too, explains (so every message comes from one parser)."""
    try:
        import yaml

        loader = _libyaml_loader()(text)
    except ImportError:  # PyYAML built without libyaml
        return None
    nodes: list[Any] = []
    try:
        while loader.check_node():
            nodes.append(loader.get_node())
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return nodes


@functools.cache
def _libyaml_loader() -> Any:
    from yaml._yaml import CParser
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode
    from yaml.resolver import BaseResolver

    class CoreLoader(CParser, BaseResolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            BaseResolver.__init__(self)

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if kind is ScalarNode:
                return core_tag(value) if implicit[0] else _STR
            if kind is SequenceNode:
                return "tag:yaml.org,2002:seq"
            if kind is MappingNode:
                return "tag:yaml.org,2002:map"
            return _STR

    return CoreLoader


def _compose_with_ruamel(text: str) -> list[Any]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="safe", pure=True)
    yaml.Resolver = _core_resolver()
    # A redefined anchor is legal YAML (the later one wins); ruamel would print a
    # warning, and this layer does no output.
    yaml.composer.warn_double_anchors = False
    try:
        nodes = list(yaml.compose_all(io.StringIO(text)))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = exc.problem or exc.context or "syntax error"
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise YamlParseError(f"invalid YAML at line {line} column {column}: {detail}", line, column) from exc
    except YAMLError as exc:
        raise YamlParseError(f"invalid YAML at line 1 column 1: {exc}", 1, 1) from exc
    return nodes
