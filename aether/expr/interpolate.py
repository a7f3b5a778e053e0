"""Interpolation of ``{{ }}`` placeholders in text (SPEC §4.7). Never an
error: a placeholder whose key does not resolve stays as written."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from aether.expr.lookup import MISSING, Candidates, lookup, parse_path_text, resolve
from aether.expr.values import render


@frozen
class Slot:
    """One placeholder of a text: its text as written, its key (trimmed), and
    the key's lookup candidates (None when the key is not a path at all)."""

    text: str
    key: str
    candidates: Candidates | None


Part = str | Slot


# Texts up to this size keep their split form in a cache; larger ones (scripts
# in an executor config) are split each time rather than pinned in memory.
_CACHED_TEXT = 2048


def split(text: str) -> tuple[Part, ...]:
    """``text`` cut into literal pieces and placeholders, scanning left to right
    as rule 3 does: at each ``{{`` the next ``}}`` closes it; without one the
    rest is literal."""
    return _split_cached(text) if len(text) <= _CACHED_TEXT else _split(text)


@functools.lru_cache(maxsize=4096)
def _split_cached(text: str) -> tuple[Part, ...]:
    return _split(text)


def _split(text: str) -> tuple[Part, ...]:
    parts: list[Part] = []
    i = 0
    while True:
        start = text.find("{{", i)
        if start < 0:
            break
        end = text.find("}}", start + 2)
        if end < 0:
            break
        if start > i:
            parts.append(text[i:start])
        key = text[start + 2 : end].strip()
        parts.append(Slot(text[start : end + 2], key, parse_path_text(key)))
        i = end + 2
    if i < len(text):
        parts.append(text[i:])
    return tuple(parts)


def resolve_slot(env: Mapping[str, Any], slot: Slot) -> Any:
    """The value of a placeholder, or MISSING."""
    if slot.key in env:
        return env[slot.key]
    if slot.candidates is None:
        return MISSING
    return resolve(env, slot.candidates)


def render_parts(env: Mapping[str, Any], parts: tuple[Part, ...]) -> str:
    """Rule 3: each resolved placeholder replaced by its rendering (§4.8),
    unresolved ones kept as written."""
    out: list[str] = []
    for part in parts:
        if type(part) is str:
            out.append(part)
            continue
        assert isinstance(part, Slot)
        value = resolve_slot(env, part)
        out.append(part.text if value is MISSING else render(value))
    return "".join(out)


def _whole_placeholder_key(text: str) -> str | None:
    """Rule 2: the key if ``text`` is exactly one placeholder."""
    if len(text) >= 4 and text.startswith("{{") and text.endswith("}}"):
        inner = text[2:-2]
        if "{{" not in inner and "}}" not in inner:
            return inner.strip()
    return None


def interpolate_typed(text: str, env: Mapping[str, Any]) -> Any:
    """Typed interpolation (SPEC §4.7): a text that is one whole placeholder
    whose key resolves gives the value itself, with its JSON type; otherwise a
    string with each resolved placeholder rendered."""
    if "{{" not in text:
        return text
    key = _whole_placeholder_key(text)
    if key is not None:
        found, value = lookup(env, key)
        return value if found else text
    return render_parts(env, split(text))


def interpolate_string(text: str, env: Mapping[str, Any]) -> str:
    """String interpolation (SPEC §4.7): typed interpolation, then the
    rendering of a non-string result."""
    result = interpolate_typed(text, env)
    return result if isinstance(result, str) else render(result)
