"""Final shaping of a problem list (SPEC §3.1): follow-on problems of type errors
dropped, duplicates merged, ``--strict`` applied, sorted in document order of the path
then by code, and source positions attached."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aether.model.paths import Segment, split_path
from aether.model.positions import Locator
from aether.model.problems import Problem

# Sorts a key that the source does not have after every key it has.
_ABSENT = 1 << 62


class _DocumentOrder:
    """Sort keys of paths: per segment, the position of that member in the source data
    (objects keep their keys in document order)."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._members: dict[int, tuple[dict[str, int], dict[str, str]]] = {}

    def _member(self, obj: dict[str, Any], key: str) -> tuple[int, str] | None:
        cached = self._members.get(id(obj))
        if cached is None:
            positions = {k: i for i, k in enumerate(obj)}
            lower = {k.lower(): k for k in obj}
            cached = self._members[id(obj)] = (positions, lower)
        positions, lower = cached
        actual = key if key in positions else lower.get(key.lower())
        if actual is None:
            return None
        return positions[actual], actual

    def key(self, segments: tuple[Segment, ...]) -> tuple[tuple[int, str], ...]:
        node = self._raw
        out: list[tuple[int, str]] = []
        for segment in segments:
            if isinstance(segment, int):
                out.append((segment, ""))
                node = node[segment] if isinstance(node, list) and segment < len(node) else None
                continue
            found = self._member(node, segment) if isinstance(node, dict) else None
            if found is None:
                out.append((_ABSENT, segment))
                node = None
            else:
                out.append((found[0], ""))
                node = node[found[1]]
        return tuple(out)


def _without_type_followups(problems: list[Problem]) -> list[Problem]:
    """A value rejected with E-TYPE is treated as absent; what validation then says about
    it or below it (``spec is required`` …) only repeats the type error."""
    typed = {p.path for p in problems if p.code == "E-TYPE"}
    if not typed:
        return problems
    return [p for p in problems if p.code == "E-TYPE" or not _below_any(p.path, typed)]


def _below_any(path: str, ancestors: set[str]) -> bool:
    if path in ancestors:
        return True
    # Every prefix that ends just before a "." or "[" is an ancestor path.
    return any(path[:i] in ancestors for i, char in enumerate(path) if char in ".[")


def finalize(
    problems: Iterable[Problem], *, raw: Any = None, locator: Locator | None = None, strict: bool = False
) -> tuple[Problem, ...]:
    kept = _without_type_followups(list(problems))
    seen: set[tuple[str, str, str]] = set()
    unique: list[Problem] = []
    for problem in kept:
        identity = (problem.code, problem.path, problem.message)
        if identity not in seen:
            seen.add(identity)
            unique.append(problem.as_error() if strict and not problem.is_error else problem)
    segments = {p.path: split_path(p.path) for p in unique}
    if len(unique) > 1:
        order = _DocumentOrder(raw)
        keys = {path: order.key(segs) for path, segs in segments.items()}
        unique.sort(key=lambda p: (keys[p.path], p.code, p.path, p.message))
    if locator is not None:
        unique = [_located(p, locator, segments[p.path]) for p in unique]
    return tuple(unique)


def _located(problem: Problem, locator: Locator, segments: tuple[Segment, ...]) -> Problem:
    if problem.line is not None:
        return problem
    position = locator.locate(segments)
    if position is None:
        return problem
    return Problem(problem.code, problem.severity, problem.path, problem.message, position[0], position[1])
