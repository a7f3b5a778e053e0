"""Cron schedules (SPEC §12.1): parsing, wall-clock matching and tick ranges.

The syntax is checked here, field by field, so that every error names the field and the
value (§3.3.10). croniter then only *iterates wall-clock times*: it is handed naive
datetimes on purpose. Given aware datetimes, croniter 7 moves a local time skipped by a
spring-forward to the next existing minute (``30 2 * * *`` fires at 03:00 on that day) and
fires a repeated local time twice at fall-back; §12.1 wants neither. The step from a wall
time to an instant is done here instead (:func:`_instant`): a wall time inside a gap has
no instant, a repeated one takes its first occurrence (``fold=0``).

That step is strictly increasing over the wall times that exist, which is what makes the
range queries exact: the ticks in ``(after, until]`` are the matching wall times from the
wall clock of ``after`` onward, and splitting a window anywhere loses and repeats nothing.

Pure: no clock ("now" is always an argument), no IO beyond zoneinfo's read-only zone data.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attrs import frozen
from croniter import CroniterBadDateError, croniter

CODE_SCHEDULE = "E-CRON-SCHEDULE"
CODE_FIELD = "E-CRON-FIELD"

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# The longest each month can be; February counts its leap day so that ``29 2`` is possible.
_MAX_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class ScheduleError(Exception):
    """A schedule that does not parse. ``message`` is the §3.3.10 message shape."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@frozen
class _FieldRule:
    name: str
    low: int
    high: int  # highest value accepted in text (day-of-week accepts 7 for Sunday)
    star_high: int  # where ``*`` and ``a/n`` end (day-of-week: 6, so 7 is not Sunday twice)
    names: tuple[str, ...] = ()  # names[i] stands for low + i
    day: bool = False  # ``?`` is allowed


_FIELDS = (
    _FieldRule("minute", 0, 59, 59),
    _FieldRule("hour", 0, 23, 23),
    _FieldRule("day-of-month", 1, 31, 31, day=True),
    _FieldRule("month", 1, 12, 12, names=_MONTH_NAMES),
    _FieldRule("day-of-week", 0, 7, 6, names=_DAY_NAMES, day=True),
)
_NUMBER = re.compile(r"[0-9]+")


class _FieldProblem(Exception):
    """What is wrong with one field; becomes the ``<problem>`` of E-CRON-FIELD."""


@frozen
class _ParsedField:
    values: frozenset[int]
    # False when an element is ``*`` or ``?`` without a step (or with step 1): the field
    # then takes no part in the day-of-month/day-of-week OR rule, as in Vixie cron and
    # robfig/cron. ``*/2`` or ``1-31`` restrict the field.
    restricted: bool


def _parse_value(text: str, rule: _FieldRule) -> int:
    if _NUMBER.fullmatch(text):
        value = int(text)
    elif rule.names and text.upper() in rule.names:
        value = rule.low + rule.names.index(text.upper())
    elif rule.names and text.isalpha():
        raise _FieldProblem(f'unknown name "{text}"')
    else:
        raise _FieldProblem(f'invalid value "{text}"')
    if not rule.low <= value <= rule.high:
        raise _FieldProblem(f"value {value} out of range {rule.low}-{rule.high}")
    return value


def _parse_element(text: str, rule: _FieldRule) -> tuple[range, bool]:
    """One comma element as (values, is an unrestricted star)."""
    if text == "":
        raise _FieldProblem("empty list element")
    base, slash, step_text = text.partition("/")
    step = 1
    if slash:
        if not _NUMBER.fullmatch(step_text) or int(step_text) < 1:
            raise _FieldProblem(f'step "{step_text}" must be a positive integer')
        step = int(step_text)
    if base in ("*", "?"):
        if base == "?" and not rule.day:
            raise _FieldProblem('"?" is allowed only in day-of-month and day-of-week')
        return range(rule.low, rule.star_high + 1, step), step == 1
    if base == "":
        raise _FieldProblem(f'invalid element "{text}"')
    first_text, dash, last_text = base.partition("-")
    if dash and ("" in (first_text, last_text) or "-" in last_text):
        raise _FieldProblem(f'invalid range "{base}"')  # ``-1``, ``1-``, ``1-2-3``
    first = _parse_value(first_text, rule)
    if dash:
        last = _parse_value(last_text, rule)
        if first > last:
            raise _FieldProblem(f'range "{base}" has its start after its end')
    elif slash:
        last = max(first, rule.star_high)  # ``a/n`` runs from a to the end of the field
    else:
        last = first
    return range(first, last + 1, step), False


def _parse_field(text: str, rule: _FieldRule) -> _ParsedField:
    values: set[int] = set()
    star = False
    for element in text.split(","):
        elem_values, elem_star = _parse_element(element, rule)
        values.update(elem_values)
        star = star or elem_star
    if rule.name == "day-of-week" and 7 in values:
        values.discard(7)
        values.add(0)
    return _ParsedField(frozenset(values), not star)


def _shape_error(text: str) -> ScheduleError:
    return ScheduleError(
        CODE_SCHEDULE,
        f'spec.schedule "{text}" must be a 5-field cron expression or a macro (@hourly, @daily, etc.)',
    )


def _expand(text: str) -> list[str] | None:
    """The five field texts of a schedule, macros expanded; ``None`` for a wrong shape."""
    stripped = text.strip()
    if stripped.startswith("@"):
        macro = MACROS.get(stripped)
        return macro.split() if macro is not None else None
    fields = stripped.split()
    return fields if len(fields) == 5 else None


def _parse(text: str) -> tuple[list[str], list[_ParsedField], list[ScheduleError]]:
    """The field texts, the fields that parsed, and one error per problem."""
    fields = _expand(text)
    if fields is None:
        return [], [], [_shape_error(text)]
    parsed: list[_ParsedField] = []
    errors: list[ScheduleError] = []
    for field_text, rule in zip(fields, _FIELDS, strict=True):
        try:
            parsed.append(_parse_field(field_text, rule))
        except _FieldProblem as problem:
            message = f'spec.schedule "{text}": {rule.name} "{field_text}": {problem}'
            errors.append(ScheduleError(CODE_FIELD, message))
    return fields, parsed, errors


def schedule_errors(text: str) -> list[ScheduleError]:
    """Every problem of a schedule: one E-CRON-SCHEDULE, or one E-CRON-FIELD per bad field
    (validation reports all problems at once, §3.1). Empty for a valid schedule."""
    return _parse(text)[2]


def parse_schedule(text: str) -> Schedule:
    """Parse a five-field expression or a macro (§12.1). Raises :class:`ScheduleError`
    for the first problem."""
    fields, parsed, errors = _parse(text)
    if errors:
        raise errors[0]
    minute, hour, dom, month, dow = parsed
    return Schedule(
        text=text,
        expanded=" ".join(fields),
        minutes=minute.values,
        hours=hour.values,
        days=dom.values,
        months=month.values,
        weekdays=dow.values,
        day_or=dom.restricted and dow.restricted,
    )


# --- time zones --------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _load_zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: not a normalized relative key; OSError: a directory such as
        # ``America``, or a name too long for the file system.
        return None


def valid_timezone(name: str) -> bool:
    """True for a zone name that zoneinfo knows (``UTC``, ``Europe/Berlin``, …). ``Local``
    is not a zone: it is resolved to the host's zone at submit (§2.7)."""
    return bool(name) and _load_zone(name) is not None


def resolve_zone(name: str) -> ZoneInfo | timezone:
    """The zone a schedule is read in. The empty string is UTC (the §2.10 default)."""
    if name == "":
        return UTC
    found = _load_zone(name)
    if found is None:
        raise ValueError(f'unknown time zone "{name}"')
    return found


# --- schedules ---------------------------------------------------------------------------


def _require_aware(t: datetime, what: str) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {t!r}")


def _instant(wall: datetime, tz: ZoneInfo | timezone) -> datetime | None:
    """The instant of a wall-clock time in ``tz``: ``None`` inside a spring-forward gap,
    the first occurrence (``fold=0``, the earlier instant) of a time repeated at fall-back."""
    local = wall.replace(tzinfo=tz, fold=0)
    instant = local.astimezone(UTC)
    # A time in a gap does not survive the round trip: it comes back shifted by the gap.
    if instant.astimezone(tz).replace(tzinfo=None) != wall:
        return None
    return instant


def _wall_minute(t: datetime, tz: ZoneInfo | timezone) -> tuple[datetime, timedelta]:
    """The wall clock of ``t`` in ``tz``, floored to the minute, and how far the wall clock
    runs behind the first occurrence when ``t`` lies in the second pass of a repeated
    period (zero otherwise)."""
    local = t.astimezone(tz)
    repeat = timedelta(0)
    if local.fold == 1:
        first_offset = local.replace(fold=0).utcoffset()
        second_offset = local.utcoffset()
        assert first_offset is not None and second_offset is not None
        repeat = max(first_offset - second_offset, timedelta(0))
    wall = local.replace(tzinfo=None, fold=0, second=0, microsecond=0)
    return wall, repeat


@frozen
class Schedule:
    """A parsed schedule. Value sets hold day-of-week as 0-6 (Sunday 0)."""

    text: str
    expanded: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    # Both day fields restricted: a day matches when EITHER matches (standard cron).
    day_or: bool

    # -- matching --------------------------------------------------------------------------

    def matches_day(self, day: date) -> bool:
        dom = day.day in self.days
        dow = day.isoweekday() % 7 in self.weekdays
        if self.day_or:
            return dom or dow
        # An unrestricted field holds every value, so AND reduces to the other field.
        return dom and dow

    def matches_wall(self, wall: datetime) -> bool:
        """Whether a wall-clock time (its zone ignored) is named by the schedule."""
        return (
            wall.second == 0
            and wall.microsecond == 0
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and self.matches_day(wall.date())
        )

    @property
    def possible(self) -> bool:
        """False for a schedule that names no date at all (``0 0 30 2 *``). Such a
        schedule is valid syntax and simply never ticks; knowing it up front keeps
        croniter from searching 50 years per query."""
        if self.day_or or len(self.weekdays) < 7:
            return True  # a weekday recurs every week
        return any(d <= _MAX_DAYS[m - 1] for m in self.months for d in self.days)

    def _croniter_expression(self) -> str:
        """The schedule as plain value lists, so that croniter's own view of which day
        field is restricted (it collapses full lists to ``*``) cannot differ from ours."""

        def field(values: frozenset[int], size: int) -> str:
            return "*" if len(values) == size else ",".join(str(v) for v in sorted(values))

        dom = field(self.days, 31)
        dow = field(self.weekdays, 7)
        if self.day_or and "*" in (dom, dow):
            dom = dow = "*"  # OR with a field that matches every day matches every day
        elif not self.day_or and "*" not in (dom, dow):
            raise AssertionError("an unrestricted day field always holds every value")
        return " ".join((field(self.minutes, 60), field(self.hours, 24), dom, field(self.months, 12), dow))

    def _walls(self, start: datetime, backwards: bool) -> Iterator[datetime]:
        """Matching wall-clock times strictly after (or before) the naive ``start``."""
        if not self.possible:
            return
        it = croniter(self._croniter_expression(), start, ret_type=datetime, day_or=True)
        while True:
            try:
                wall: datetime = it.get_prev() if backwards else it.get_next()
            except (CroniterBadDateError, ValueError, OverflowError):
                return  # no match within croniter's search horizon, or past year 9999
            yield wall

    # -- ranges ----------------------------------------------------------------------------

    def _forward(self, tz: str, after: datetime) -> Iterator[datetime]:
        """Every tick > ``after``, increasing, unbounded."""
        _require_aware(after, "after")
        zone_ = resolve_zone(tz)
        start, _ = _wall_minute(after, zone_)
        for wall in self._walls(start, backwards=False):
            instant = _instant(wall, zone_)
            if instant is None:
                continue  # skipped by a spring-forward: this local time does not occur
            if instant <= after:
                # Only when ``after`` is in the second pass of a repeated period: wall
                # times later than its clock but still inside that period had their
                # (single) occurrence in the first pass, before ``after``.
                continue
            yield instant

    def ticks(self, tz: str, after: datetime, until: datetime) -> Iterator[datetime]:
        """Every scheduled instant ``t`` with ``after < t <= until``, increasing, as aware
        UTC datetimes, matched on the wall clock of ``tz`` with §12.1's DST rules."""
        _require_aware(after, "after")
        _require_aware(until, "until")
        if until <= after:
            return
        for instant in self._forward(tz, after):
            if instant > until:
                return
            yield instant

    def ticks_in(self, tz: str, start: datetime, end: datetime) -> Iterator[datetime]:
        """Ticks in the half-open ``[start, end)`` (backfill, §12.5). Datetimes have
        microsecond resolution, so ``[s, e)`` is ``(s - 1µs, e - 1µs]``."""
        tick = timedelta(microseconds=1)
        return self.ticks(tz, start - tick, end - tick)

    def next_after(self, tz: str, after: datetime) -> datetime | None:
        """The first tick > ``after``, or ``None`` when there is none."""
        return next(self._forward(tz, after), None)

    def previous_at_or_before(self, tz: str, t: datetime) -> datetime | None:
        """The latest tick <= ``t`` (catch-up ``latest``, §12.5), or ``None``."""
        _require_aware(t, "t")
        zone_ = resolve_zone(tz)
        wall, repeat = _wall_minute(t, zone_)
        # croniter's get_prev is strict, hence the extra minute. When ``t`` is in the
        # second pass of a repeated period, every wall time of that period already
        # occurred (first pass) before ``t``, so the search starts past its end.
        start = wall + timedelta(minutes=1) + repeat
        for candidate in self._walls(start, backwards=True):
            instant = _instant(candidate, zone_)
            if instant is not None and instant <= t:
                return instant
        return None


# --- RFC 3339 ----------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def format_rfc3339_ms(t: datetime) -> str:
    """``2026-03-01T10:00:00.000Z``: UTC, milliseconds (truncated, as Go's ``.000``)."""
    _require_aware(t, "t")
    u = t.astimezone(UTC)
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond // 1000:03d}Z"
    )


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 timestamp as an aware UTC datetime. Fractional seconds are allowed
    (beyond microseconds they are truncated); the zone is ``Z`` or ``±HH:MM``.
    Raises ValueError whose text is the detail of E-CRON-START-AT / E-CRON-END-AT."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError("expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone_text = match.group(7), match.group(8)
    if year < 1:
        raise ValueError("year out of range")
    if not 1 <= month <= 12:
        raise ValueError("month out of range")
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise ValueError("day out of range")
    if hour > 23:
        raise ValueError("hour out of range")
    if minute > 59:
        raise ValueError("minute out of range")
    if second > 59:  # Python has no leap second; Go rejects it too
        raise ValueError("second out of range")
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    if zone_text in ("Z", "z"):
        offset = timedelta(0)
    else:
        off_hours, off_minutes = int(zone_text[1:3]), int(zone_text[4:6])
        if off_hours > 23 or off_minutes > 59:
            raise ValueError("time zone offset out of range")
        offset = timedelta(hours=off_hours, minutes=off_minutes)
        if zone_text[0] == "-":
            offset = -offset
    local = datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone(offset))
    try:
        return local.astimezone(UTC)
    except OverflowError:
        raise ValueError("time out of range") from None
