"""Variable lookup (SPEC §4.2): the longest dotted prefix of a path that is a
key of the flat environment, then navigation of the rest into that value.

The environment may be a lazy mapping built by the scheduler, so it is only
ever asked ``key in env`` and ``env[key]``: never iterated, never sized."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from attrs import frozen

from aether.expr.values import is_list, is_object

# Accepted wherever a variable is read (SPEC §4.2, §4.3).
_ALIAS_FROM = ("workflow", "arguments", "parameters")
_ALIAS_TO = ("workflow", "parameters")

MISSING: Any = object()


@frozen
class TextField:
    name: str


@frozen
class TextIndex:
    key: int | str


TextStep = TextField | TextIndex
# Ways to read a path: (flat key, steps to follow in its value), longest key first.
Candidates = tuple[tuple[str, tuple[Any, ...]], ...]


def candidates(head: Sequence[str], tail: tuple[Any, ...] = ()) -> Candidates:
    """``(key, steps)`` pairs for a path whose leading names are ``head`` and
    whose further steps are ``tail``, longest key first. A path under
    ``workflow.arguments.parameters`` also tries its alias
    ``workflow.parameters``, after the path as written."""
    out = [(".".join(head[:n]), tuple(TextField(s) for s in head[n:]) + tail) for n in range(len(head), 0, -1)]
    if tuple(head[:3]) == _ALIAS_FROM and len(head) > 3:
        alias = _ALIAS_TO + tuple(head[3:])
        out.extend(
            (".".join(alias[:n]), tuple(TextField(s) for s in alias[n:]) + tail) for n in range(len(alias), 2, -1)
        )
    return tuple(out)


def navigate(value: Any, steps: Sequence[TextStep]) -> Any:
    """Follow ``steps`` into ``value``; ``MISSING`` if any step fails."""
    for step in steps:
        if type(step) is TextField:
            if not is_object(value) or step.name not in value:
                return MISSING
            value = value[step.name]
            continue
        assert isinstance(step, TextIndex)
        key = step.key
        if type(key) is int:
            if not is_list(value):
                return MISSING
            n = len(value)
            if not -n <= key < n:
                return MISSING
            value = value[key]
        else:
            if not is_object(value) or key not in value:
                return MISSING
            value = value[key]
    return value


def _parse_index(text: str) -> int | str | None:
    """The key of a ``[…]`` step written as text: an integer, or a quoted
    string in which a backslash takes the next character literally."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        quote, body, out = text[0], text[1:-1], []
        i = 0
        while i < len(body):
            c = body[i]
            if c == "\\" and i + 1 < len(body):
                out.append(body[i + 1])
                i += 2
                continue
            if c == quote:
                return None
            out.append(c)
            i += 1
        return "".join(out)
    digits = text[1:] if text[:1] == "-" else text
    if digits.isascii() and digits.isdigit():
        return int(text)
    return None


# Longer texts are parsed each time rather than kept in the cache.
_CACHED_PATH = 512


def parse_path_text(path: str) -> Candidates | None:
    """The lookup candidates of a path written as text, or None if it is not a
    path. Lenient about the characters of a segment (a flat key may hold any
    text, e.g. a bare item field with a space), strict about structure: no empty
    segment, ``[…]`` holds an integer or a quoted string."""
    return _parse_cached(path) if len(path) <= _CACHED_PATH else _parse(path)


@functools.lru_cache(maxsize=4096)
def _parse_cached(path: str) -> Candidates | None:
    return _parse(path)


def _parse(path: str) -> Candidates | None:
    head: list[str] = []
    tail: list[TextStep] = []
    i, n = 0, len(path)
    in_head = True
    expect_segment = True
    while i < n:
        c = path[i]
        if c == "[":
            close = _closing_bracket(path, i)
            if close < 0 or expect_segment:
                return None
            key = _parse_index(path[i + 1 : close])
            if key is None:
                return None
            tail.append(TextIndex(key))
            in_head = False
            expect_segment = False
            i = close + 1
            if i < n and path[i] not in ".[":
                return None
            continue
        if c == ".":
            if expect_segment:
                return None
            expect_segment = True
            i += 1
            continue
        if c == "]" or not expect_segment:
            return None
        j = i
        while j < n and path[j] not in ".[]":
            j += 1
        segment = path[i:j]
        if in_head:
            head.append(segment)
        else:
            tail.append(TextField(segment))
        expect_segment = False
        i = j
    if expect_segment or not head:
        return None
    return candidates(head, tuple(tail))


def _closing_bracket(path: str, start: int) -> int:
    """Index of the ``]`` closing the ``[`` at ``start``, skipping quoted text."""
    i = start + 1
    quote = ""
    while i < len(path):
        c = path[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "]":
            return i
        i += 1
    return -1


def resolve(env: Mapping[str, Any], cands: Candidates) -> Any:
    """The value of the first candidate whose key exists, navigated; MISSING if
    none exists or its navigation fails (the longest key is not abandoned for a
    shorter one)."""
    for key, rest in cands:
        if key in env:
            value = env[key]
            return navigate(value, rest) if rest else value
    return MISSING


def lookup(env: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """``(True, value)`` if ``path`` resolves in ``env`` (SPEC §4.2), else
    ``(False, None)``. Accepts ``[i]`` and ``['k']`` steps written in the text
    (``tasks.a.outputs.parameters.rows[0]``). Never raises."""
    try:
        if path in env:
            return True, env[path]
    except TypeError:
        return False, None
    cands = parse_path_text(path)
    if cands is None:
        return False, None
    value = resolve(env, cands)
    if value is MISSING:
        return False, None
    return True, value
