"""A captured output stream as one recordable value (SPEC §14.3, §3.2 ``L-VALUE``): a
stream whose compact JSON would exceed the value limit keeps its head and its tail, each
about half of the limit, joined by a marker that says how many bytes were left out."""

from __future__ import annotations

import orjson

from aether.model.limits import DEFAULT_LIMITS

MARKER = "\n…[truncated {} bytes]…\n"


def json_size(text: str) -> int:
    return len(orjson.dumps(text))


def decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def stream_value(head: bytes, tail: bytes, total: int, limit: int = DEFAULT_LIMITS.value_bytes) -> tuple[str, int]:
    """The text to record for a stream of ``total`` bytes, of which ``head`` are the first
    and ``tail`` the last bytes captured, and how many bytes it leaves out (0: all of it).
    The text's compact JSON is at most ``limit`` bytes."""
    if total <= len(head):
        text = decode(head)
        if json_size(text) <= limit:
            return text, 0
        tail = head
    budget = (limit - json_size(MARKER.format(total))) // 2
    kept_head = _longest(head, budget, from_end=False)
    kept_tail = _longest(tail, budget, from_end=True)
    omitted = max(0, total - len(kept_head) - len(kept_tail))
    return decode(kept_head) + MARKER.format(omitted) + decode(kept_tail), omitted


def _longest(data: bytes, budget: int, *, from_end: bool) -> bytes:
    """The longest prefix (or suffix) of ``data`` whose text, as a JSON string without its
    quotes, fits ``budget`` bytes. Escapes only lengthen text, so at most ``budget`` bytes."""

    def piece(count: int) -> bytes:
        return data[len(data) - count :] if from_end else data[:count]

    low, high = 0, min(len(data), max(0, budget))
    while low < high:
        middle = (low + high + 1) // 2
        if json_size(decode(piece(middle))) - 2 <= budget:
            low = middle
        else:
            high = middle - 1
    return piece(low)
