"""Source positions of problem paths (SPEC §3.1: ``line`` and ``column`` when known).

Positions are looked up only after validation found problems, so loading a valid
document never pays for them. A path that does not exist in the source (a missing
required field, a template merged in from a WorkflowTemplate) gets the position of its
nearest ancestor that does.

JSON: the text is re-scanned along the path; each object or array on the way is
indexed once (keys and element offsets) and skipped values are jumped over with the C
decoder. YAML: the composed node tree already carries marks.
"""

from __future__ import annotations

import bisect
import json
import re
from typing import Any, Protocol

from aether.model.paths import Segment

Position = tuple[int, int]

_WS_RUN = re.compile(r"[ \t\n\r]*")


class Locator(Protocol):
    def locate(self, segments: tuple[Segment, ...]) -> Position | None: ...


class NoLocator:
    def locate(self, segments: tuple[Segment, ...]) -> Position | None:
        return None


class _Members:
    """The members of one JSON object found so far, scanned lazily from its start."""

    def __init__(self, start: int) -> None:
        self.exact: dict[str, tuple[int, int]] = {}
        self.lower: dict[str, tuple[int, int]] = {}
        self.next = start + 1  # where scanning resumes
        self.done = False


class _Elements:
    def __init__(self, start: int) -> None:
        self.offsets: list[int] = []
        self.next = start + 1
        self.done = False


class JsonLocator:
    """Offsets of members and elements in JSON text.

    Containers on a path are scanned only as far as needed (problems come sorted in
    document order, so each scan mostly resumes where the last stopped), and values
    that are stepped over are skipped with the C decoder. With ``exhaustive`` (the
    source had duplicate keys) an object is always scanned to its end so that the
    last duplicate is the one located, as it is the one decoded.
    """

    def __init__(self, text: str, exhaustive: bool = False) -> None:
        self._text = text
        self._exhaustive = exhaustive
        self._decoder = json.JSONDecoder()
        self._objects: dict[int, _Members] = {}
        self._arrays: dict[int, _Elements] = {}
        self._line_starts: list[int] | None = None

    def _skip_ws(self, pos: int) -> int:
        return _WS_RUN.match(self._text, pos).end()  # type: ignore[union-attr]

    def _value_end(self, pos: int) -> int:
        _, end = self._decoder.raw_decode(self._text, pos)
        return int(end)

    def _scan_member(self, members: _Members) -> None:
        text = self._text
        pos = self._skip_ws(members.next)
        if pos >= len(text) or text[pos] != '"':
            members.done = True
            return
        key, after_key = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
        value = self._skip_ws(self._skip_ws(after_key) + 1)
        members.exact[key] = (pos, value)
        members.lower[key.lower()] = (pos, value)
        pos = self._skip_ws(self._value_end(value))
        if pos < len(text) and text[pos] == ",":
            pos += 1
        else:
            members.done = True
        members.next = pos

    def _member(self, start: int, key: str) -> tuple[int, int] | None:
        members = self._objects.get(start)
        if members is None:
            members = self._objects[start] = _Members(start)
        while not members.done and (self._exhaustive or key not in members.exact):
            self._scan_member(members)
        # The decoder takes keys case-insensitively (SPEC §2.1), so paths use the known
        # spelling while the source may have another one.
        return members.exact.get(key) or members.lower.get(key.lower())

    def _element(self, start: int, index: int) -> int | None:
        elements = self._arrays.get(start)
        if elements is None:
            elements = self._arrays[start] = _Elements(start)
        text = self._text
        while not elements.done and len(elements.offsets) <= index:
            pos = self._skip_ws(elements.next)
            if pos >= len(text) or text[pos] == "]":
                elements.done = True
                break
            elements.offsets.append(pos)
            pos = self._skip_ws(self._value_end(pos))
            if pos < len(text) and text[pos] == ",":
                elements.next = pos + 1
            else:
                elements.done = True
        return elements.offsets[index] if index < len(elements.offsets) else None

    def _offset(self, segments: tuple[Segment, ...]) -> int:
        text = self._text
        value = self._skip_ws(0)
        located = value
        try:
            for segment in segments:
                opener = text[value] if value < len(text) else ""
                if isinstance(segment, str) and opener == "{":
                    found = self._member(value, segment)
                    if found is None:
                        break
                    located, value = found
                elif isinstance(segment, int) and opener == "[":
                    element = self._element(value, segment)
                    if element is None:
                        break
                    located = value = element
                else:
                    break
        except (ValueError, IndexError):
            pass
        return located

    def _position(self, offset: int) -> Position:
        if self._line_starts is None:
            starts = [0]
            find = self._text.find
            pos = find("\n")
            while pos != -1:
                starts.append(pos + 1)
                pos = find("\n", pos + 1)
            self._line_starts = starts
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def locate(self, segments: tuple[Segment, ...]) -> Position | None:
        return self._position(self._offset(segments))


class YamlLocator:
    """Marks of the composed nodes (0-based there, 1-based here)."""

    def __init__(self, root: Any) -> None:
        self._root = root

    def locate(self, segments: tuple[Segment, ...]) -> Position | None:
        node = self._root
        if node is None:
            return None
        mark = node.start_mark
        for segment in segments:
            if isinstance(segment, str) and node.id == "mapping":
                exact = lower = None
                for key_node, value_node in node.value:
                    key = key_node.value
                    if not isinstance(key, str):
                        continue
                    if key == segment:
                        exact = (key_node, value_node)
                    elif key.lower() == segment.lower():
                        lower = (key_node, value_node)
                found = exact or lower
                if found is None:
                    break
                mark = found[0].start_mark
                node = found[1]
            elif isinstance(segment, int) and node.id == "sequence":
                if segment >= len(node.value):
                    break
                node = node.value[segment]
                mark = node.start_mark
            else:
                break
        return mark.line + 1, mark.column + 1
