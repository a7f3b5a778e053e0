"""JSONPath-like problem paths (SPEC §0): ``$.spec.templates[2].dag.tasks[0].name``.

Keys that are not plain names (dots, spaces, brackets, quotes …) are written in bracket
form with a JSON string, ``$.metadata.labels["a.b"]``, so that every path can be split
back into the segments it was built from.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

ROOT = "$"

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_SEGMENT = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[(\"(?:[^\"\\]|\\.)*\")\]")

Segment = str | int


def key_path(parent: str, key: str) -> str:
    """The path of member ``key`` of the object at ``parent``."""
    if _PLAIN_KEY.match(key):
        return f"{parent}.{key}"
    return f"{parent}[{json.dumps(key, ensure_ascii=False)}]"


def index_path(parent: str, index: int) -> str:
    return f"{parent}[{index}]"


@lru_cache(maxsize=4096)
def split_path(path: str) -> tuple[Segment, ...]:
    """The segments of a path: object keys as ``str``, array indexes as ``int``.

    Text that is not a well-formed path yields the segments up to the first malformed
    part; callers use segments only to order and locate problems.
    """
    if not path.startswith(ROOT):
        return ()
    segments: list[Segment] = []
    pos = len(ROOT)
    while pos < len(path):
        match = _SEGMENT.match(path, pos)
        if match is None:
            break
        plain, index, quoted = match.groups()
        if plain is not None:
            segments.append(plain)
        elif index is not None:
            segments.append(int(index))
        else:
            segments.append(json.loads(quoted))
        pos = match.end()
    return tuple(segments)


def is_within(path: str, ancestor: str) -> bool:
    """True when ``path`` is ``ancestor`` or lies below it."""
    if not path.startswith(ancestor):
        return False
    rest = path[len(ancestor) :]
    return rest == "" or rest[0] in ".["
