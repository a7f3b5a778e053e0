"""Durations (SPEC §2.9): ``30s``, ``1h30m``, ``1.5h``, ``300ms``, ``2d``, ``1d12h``."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_UNIT_NANOS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 86400 * 1_000_000_000,
}
_GROUP = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)")


def parse_duration_nanos(text: str) -> int | None:
    """Nanoseconds of a duration string, or ``None`` when it does not parse.

    The empty string is not a duration (callers treat it as absent).
    """
    if not text:
        return None
    pos = 0
    total = Decimal(0)
    while pos < len(text):
        match = _GROUP.match(text, pos)
        if match is None:
            return None
        try:
            number = Decimal(match.group(1))
        except InvalidOperation:
            return None
        total += number * _UNIT_NANOS[match.group(2)]
        pos = match.end()
    return int(total)


def parse_duration_seconds(text: str | None) -> float | None:
    """Seconds of a deadline duration, or ``None`` for "no deadline": absent, empty,
    unparsable or zero (SPEC §2.9)."""
    if text is None or text == "":
        return None
    nanos = parse_duration_nanos(text)
    if nanos is None or nanos <= 0:
        return None
    return nanos / 1e9


def duration_problem(text: str | None) -> bool:
    """True when ``text`` deserves W-DURATION-INVALID: set, non-empty, and not a positive
    duration, except an explicit zero such as ``0s``."""
    if text is None or text == "":
        return False
    nanos = parse_duration_nanos(text)
    return nanos is None or nanos < 0


def format_go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` for a non-negative number of seconds: ``1.5s``,
    ``2m3.004s``, ``1h0m0s``, ``300ms``, ``0s``."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return sign + _trim(Decimal(nanos) / size) + unit
    hours, rest = divmod(nanos, 3600 * 1_000_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000_000)
    secs = _trim(Decimal(rest) / 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}"
    if minutes:
        return f"{sign}{minutes}m{secs}"
    return sign + secs


def _trim(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text
