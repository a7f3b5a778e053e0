"""Times in events: RFC 3339 UTC with milliseconds (SPEC §0), e.g. ``2026-03-01T10:00:00.000Z``.

Events carry times as text; arithmetic is done on integer epoch milliseconds so that
a replay computes exactly the same due times.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=4096)
def _second_text(epoch_s: int) -> str:
    # Cached: formatting dominates building a run view, and the times of a run share few
    # seconds. Not strftime: it does not pad years before 1000 to four digits.
    t = _EPOCH + timedelta(seconds=epoch_s)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}."


def format_ms(epoch_ms: int) -> str:
    seconds, millis = divmod(epoch_ms, 1000)
    return f"{_second_text(seconds)}{millis:03d}Z"


def parse_ms(text: str) -> int:
    """Epoch milliseconds of an RFC 3339 time (``Z`` or an offset)."""
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    delta = t - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def datetime_to_ms(t: datetime) -> int:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    delta = t - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def ms_to_datetime(epoch_ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=epoch_ms)


def format_datetime(t: datetime) -> str:
    return format_ms(datetime_to_ms(t))
