"""Source text -> raw JSON data (SPEC §2.1, §3.3.1 document rules).

The raw data is plain ``dict``/``list``/scalars. Objects that had duplicate keys keep
the last value (in the last key's place) and are listed in ``duplicates`` by ``id`` so
that the decoder can warn at their path without a second pass over the data.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from attrs import frozen

from aether.model.limits import DEFAULT_LIMITS, Limits
from aether.model.paths import index_path
from aether.model.positions import JsonLocator, Locator, NoLocator, YamlLocator
from aether.model.problems import Problem
from aether.model.storable import UNSTORABLE, safe_key_path
from aether.model.yaml_core import MultiDocumentError, TooLargeError, YamlParseError, compose_yaml

JSON_FORMAT = "json"
YAML_FORMAT = "yaml"
FORMATS = (JSON_FORMAT, YAML_FORMAT)


@frozen
class Source:
    data: Any
    fmt: str
    duplicates: dict[int, tuple[str, ...]]
    locator: Locator


def sniff_format(text: str) -> str:
    """SPEC §2.1: a document whose first non-blank character is ``{`` is JSON."""
    stripped = text.lstrip()
    return JSON_FORMAT if stripped.startswith("{") else YAML_FORMAT


def format_from_extension(name: str) -> str | None:
    lowered = name.lower()
    if lowered.endswith(".json"):
        return JSON_FORMAT
    if lowered.endswith((".yaml", ".yml")):
        return YAML_FORMAT
    return None


def _problem(code: str, message: str, line: int | None = None, column: int | None = None) -> Problem:
    return Problem(code, "error", "$", message, line, column)


def _too_large(size: int, limit: int) -> Problem:
    return _problem("E-DOC-TOO-LARGE", f"document is {size} bytes; the limit is {limit}")


class _NonFinite(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NonFinite(name)


_CONSTANT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')


def _constant_offset(text: str) -> int:
    for match in _CONSTANT.finditer(text):
        if match.group(1):
            return match.start(1)
    return 0


class _ObjectHook:
    """``object_pairs_hook`` that records objects with duplicate keys."""

    def __init__(self) -> None:
        self.duplicates: dict[int, tuple[str, ...]] = {}

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        counts: dict[str, int] = {}
        obj = {}
        for key, value in pairs:
            if key in obj:
                counts[key] = counts.get(key, 1) + 1
                # Last occurrence wins and takes the last place (see yaml_core._mapping).
                del obj[key]
            obj[key] = value
        self.duplicates[id(obj)] = tuple(counts)
        return obj


class _NumberLiteral:
    """A JSON number no Python value stands for faithfully: one that overflows a float
    (``1e999``) or an integer too long to convert. Replaced, with a problem at its path,
    before the data leaves this module."""

    def __init__(self, text: str, finite: bool) -> None:
        self.text = text
        self.finite = finite


class _Numbers:
    """``parse_float``/``parse_int`` hooks that mark what :class:`_NumberLiteral` covers."""

    MAX_INTEGER_DIGITS = 4000  # below Python's own refusal to convert longer texts

    def __init__(self) -> None:
        self.marked = 0

    def float(self, text: str) -> Any:
        value = float(text)
        if math.isfinite(value):
            return value
        self.marked += 1
        return _NumberLiteral(text, finite=False)

    def int(self, text: str) -> Any:
        if len(text) <= self.MAX_INTEGER_DIGITS:
            return int(text)
        self.marked += 1
        return _NumberLiteral(text, finite=True)


def _replace_number_literals(data: Any) -> list[Problem]:
    """Every :class:`_NumberLiteral` becomes absent (``null``) with its problem: a
    non-finite number is ``E-TYPE`` as in YAML (SPEC §2.1), an overlong integer cannot be
    stored. Iterative, as the data may nest as deep as the parser allows."""
    problems: list[Problem] = []
    stack: list[tuple[Any, str]] = [(data, "$")]
    while stack:
        node, path = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in list(items):
            item_path = safe_key_path(path, key) if isinstance(key, str) else index_path(path, key)
            if isinstance(item, _NumberLiteral):
                node[key] = None
                if item.finite:
                    message = f"integer of {len(item.text.lstrip('-'))} digits is outside the range the log stores"
                    problems.append(Problem(UNSTORABLE, "error", item_path, message))
                else:
                    name = key if isinstance(key, str) else path.rsplit(".", 1)[-1]
                    problems.append(
                        Problem("E-TYPE", "error", item_path, f"{name} must be a finite number, got {item.text}")
                    )
            elif isinstance(item, dict | list):
                stack.append((item, item_path))
    return problems


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _parse_json(text: str) -> tuple[Source | None, list[Problem]]:
    hook = _ObjectHook()
    numbers = _Numbers()
    try:
        data = json.loads(
            text,
            object_pairs_hook=hook,
            parse_constant=_reject_constant,
            parse_float=numbers.float,
            parse_int=numbers.int,
        )
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        return None, [_problem("E-DOC-PARSE", message, exc.lineno, exc.colno)]
    except _NonFinite as exc:
        line, column = _line_column(text, _constant_offset(text))
        message = f"invalid JSON at line {line} column {column}: {exc.args[0]} is not a JSON value"
        return None, [_problem("E-DOC-PARSE", message, line, column)]
    except RecursionError:
        return None, [_problem("E-DOC-PARSE", "invalid JSON at line 1 column 1: nesting is too deep", 1, 1)]
    problems = _replace_number_literals(data) if numbers.marked and isinstance(data, dict | list) else []
    locator = JsonLocator(text, exhaustive=bool(hook.duplicates))
    return Source(data, JSON_FORMAT, hook.duplicates, locator), problems


def _parse_yaml(text: str, limits: Limits) -> tuple[Source | None, list[Problem]]:
    max_expanded = 4 * limits.doc_bytes
    try:
        doc = compose_yaml(text, max_expanded)
    except YamlParseError as exc:
        return None, [_problem("E-DOC-PARSE", exc.message, exc.line, exc.column)]
    except MultiDocumentError as exc:
        return None, [_problem("E-DOC-MULTI", f"expected one document, found {exc.count}")]
    except TooLargeError as exc:
        message = f"document is {exc.size} bytes after alias expansion; the limit is {max_expanded}"
        return None, [_problem("E-DOC-TOO-LARGE", message)]
    except RecursionError:
        return None, [_problem("E-DOC-PARSE", "invalid YAML at line 1 column 1: nesting is too deep", 1, 1)]
    locator: Locator = YamlLocator(doc.root) if doc.root is not None else NoLocator()
    return Source(doc.data, YAML_FORMAT, doc.duplicates, locator), doc.problems


def parse_source(
    text: str | bytes, *, fmt: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> tuple[Source | None, list[Problem]]:
    """Parse a document. ``None`` and the problems when it cannot be read as an object."""
    if isinstance(text, bytes | bytearray):
        if len(text) > limits.doc_bytes:
            return None, [_too_large(len(text), limits.doc_bytes)]
        raw = bytes(text)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            before = raw[: exc.start].decode("utf-8", "replace")
            line, column = _line_column(before, len(before))
            label = (fmt if fmt in FORMATS else sniff_format(before)).upper()
            message = f"invalid {label} at line {line} column {column}: not UTF-8 text"
            return None, [_problem("E-DOC-PARSE", message, line, column)]
    # A character is at most 4 bytes: only long texts need encoding to be measured.
    elif len(text) * 4 > limits.doc_bytes:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > limits.doc_bytes:
            return None, [_too_large(size, limits.doc_bytes)]
    text = text.removeprefix("\ufeff")
    chosen = fmt if fmt in FORMATS else sniff_format(text)
    source, problems = _parse_json(text) if chosen == JSON_FORMAT else _parse_yaml(text, limits)
    if source is not None and not isinstance(source.data, dict):
        return None, [*problems, _problem("E-DOC-NOT-OBJECT", "document must be an object")]
    return source, problems
