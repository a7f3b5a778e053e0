"""Properties of cron tick ranges (SPEC §12.1, §12.5).

Schedules are generated from the §12.1 grammar together with the values each element
stands for, computed here independently of the implementation. Windows are placed near
the zone's DST transitions. The oracle for a window is brute force: every UTC minute in
it, read on the zone's wall clock, ticks when the schedule names that wall time and it is
not the second pass of a repeated period. Catch-up after an outage relies on the split
property: ticks of (a, b] then (b, c] are exactly the ticks of (a, c].
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo, available_timezones

import pytest
from attrs import frozen
from hypothesis import assume, given
from hypothesis import strategies as st

from aether.model.schedule import MACROS, Schedule, parse_schedule

pytestmark = pytest.mark.spec("12.1", "12.5")

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@frozen
class Rule:
    low: int
    high: int  # highest value written
    star_high: int  # where ``*`` and ``a/n`` end
    names: tuple[str, ...] = ()
    day: bool = False


MINUTE = Rule(0, 59, 59)
HOUR = Rule(0, 23, 23)
DOM = Rule(1, 31, 31, day=True)
MONTH = Rule(1, 12, 12, names=MONTHS)
DOW = Rule(0, 7, 6, names=DAYS, day=True)
RULES = (MINUTE, HOUR, DOM, MONTH, DOW)


@frozen
class Field:
    text: str
    values: frozenset[int]
    restricted: bool


@frozen
class Expr:
    text: str
    fields: tuple[Field, ...]

    def matches(self, wall: datetime) -> bool:
        minute, hour, dom, month, dow = self.fields
        dom_ok = wall.day in dom.values
        dow_ok = wall.isoweekday() % 7 in dow.values
        # Standard cron: when both day fields are restricted, either one is enough.
        day_ok = (dom_ok or dow_ok) if dom.restricted and dow.restricted else (dom_ok and dow_ok)
        return wall.minute in minute.values and wall.hour in hour.values and wall.month in month.values and day_ok


@st.composite
def values_text(draw: st.DrawFn, rule: Rule, value: int) -> str:
    if rule.names and value <= len(rule.names) - 1 + rule.low and draw(st.booleans()):
        name = rule.names[value - rule.low]
        return draw(st.sampled_from([name, name.lower(), name.capitalize()]))
    return str(value)


@st.composite
def element(draw: st.DrawFn, rule: Rule) -> tuple[str, set[int], bool]:
    """One comma element: (text, values, is an unrestricted star)."""
    # Stars and star steps are weighted up: dense fields make DST edges visible.
    kinds = ["star", "star", "star_step", "star_step", "value", "range", "full_range", "range_step", "value_step"]
    kind = draw(st.sampled_from(kinds))
    value = st.integers(rule.low, rule.high)
    star = draw(st.sampled_from(["*", "?"])) if rule.day else "*"
    step = draw(st.integers(1, rule.star_high - rule.low + 2))
    if kind == "star":
        return star, set(range(rule.low, rule.star_high + 1)), True
    if kind == "star_step":
        return f"{star}/{step}", set(range(rule.low, rule.star_high + 1, step)), step == 1
    if kind == "full_range":
        # Restricts the field although it names every value (matters for the day OR rule).
        text = f"{draw(values_text(rule, rule.low))}-{rule.high}"
        return text, set(range(rule.low, rule.high + 1)), False
    first = draw(value)
    if kind == "value":
        return draw(values_text(rule, first)), {first}, False
    if kind == "value_step":
        last = max(first, rule.star_high)
        return f"{draw(values_text(rule, first))}/{step}", set(range(first, last + 1, step)), False
    last = draw(st.integers(first, rule.high))
    text = f"{draw(values_text(rule, first))}-{draw(values_text(rule, last))}"
    if kind == "range":
        return text, set(range(first, last + 1)), False
    return f"{text}/{step}", set(range(first, last + 1, step)), False


@st.composite
def field(draw: st.DrawFn, rule: Rule) -> Field:
    elements = draw(st.lists(element(rule), min_size=1, max_size=3))
    values: set[int] = set().union(*(e[1] for e in elements))
    if rule is DOW and 7 in values:
        values = (values - {7}) | {0}
    return Field(",".join(e[0] for e in elements), frozenset(values), not any(e[2] for e in elements))


@st.composite
def expressions(draw: st.DrawFn) -> Expr:
    if draw(st.integers(0, 9)) == 0:
        macro = draw(st.sampled_from(sorted(MACROS)))
        fields = tuple(
            draw(field_from_text(text, rule)) for text, rule in zip(MACROS[macro].split(), RULES, strict=True)
        )
        return Expr(macro, fields)
    fields = tuple(draw(field(rule)) for rule in RULES)
    if draw(st.booleans()):
        # Every day, so that short windows around a DST change see ticks.
        every = (draw(field_from_text("*", DOM)), draw(field_from_text("*", MONTH)), draw(field_from_text("*", DOW)))
        fields = (fields[0], fields[1], *every)
    return Expr(" ".join(f.text for f in fields), fields)


def field_from_text(text: str, rule: Rule) -> st.SearchStrategy[Field]:
    if text == "*":
        return st.just(Field(text, frozenset(range(rule.low, rule.star_high + 1)), False))
    return st.just(Field(text, frozenset({int(text)}), True))


# --- zones and windows -------------------------------------------------------------------

ALL_ZONES = sorted(available_timezones())
DST_ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Europe/London",
    "Europe/Dublin",  # negative DST in tzdata
    "Australia/Lord_Howe",  # 30-minute shift
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/Sao_Paulo",  # midnight transitions until 2019
    "America/Havana",  # midnight transitions
    "America/Santiago",
    "Asia/Tehran",
    "Africa/Casablanca",  # DST suspended during Ramadan
    "Antarctica/Troll",  # two-hour shift
    "Pacific/Apia",  # skipped 2011-12-30 entirely
    "America/St_Johns",  # -03:30
    "Asia/Gaza",
]


@lru_cache(maxsize=4096)
def transitions(zone_name: str, year: int) -> tuple[datetime, ...]:
    """UTC instants, to the minute, at which the zone's offset changes during ``year``."""
    zone = ZoneInfo(zone_name)
    found: list[datetime] = []
    t = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    step = timedelta(hours=12)
    while t < end:
        nxt = t + step
        if t.astimezone(zone).utcoffset() != nxt.astimezone(zone).utcoffset():
            low, high = t, nxt
            while high - low > timedelta(minutes=1):
                mid = low + (high - low) / 2
                if low.astimezone(zone).utcoffset() == mid.astimezone(zone).utcoffset():
                    low = mid
                else:
                    high = mid
            found.append(high.replace(second=0, microsecond=0))
        t = nxt
    return tuple(found)


@st.composite
def windows(draw: st.DrawFn, max_span: timedelta) -> tuple[str, datetime, datetime]:
    """(zone, after, until), mostly placed around one of the zone's offset changes."""
    zone = draw(st.sampled_from(DST_ZONES) if draw(st.integers(0, 4)) else st.sampled_from(ALL_ZONES))
    year = draw(st.integers(1996, 2060))
    changes = transitions(zone, year)
    max_minutes = max(1, int(max_span.total_seconds() // 60))
    minutes = st.one_of(st.integers(1, min(180, max_minutes)), st.integers(1, max_minutes))
    placement = draw(st.sampled_from(["across", "across", "from", "anywhere"])) if changes else "anywhere"
    if placement == "across":
        anchor = draw(st.sampled_from(changes))
        after = anchor - timedelta(minutes=draw(minutes))
        until = anchor + timedelta(minutes=draw(minutes))
    elif placement == "from":
        # Starting just after the change: inside a repeated period's second pass, say.
        anchor = draw(st.sampled_from(changes))
        after = anchor + timedelta(minutes=draw(st.integers(0, 180)))
        until = after + timedelta(minutes=draw(minutes))
    else:
        after = datetime(year, 1, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 364 * 1440)))
        until = after + timedelta(minutes=draw(st.integers(0, max_minutes)))
    # Off-minute bounds, or exactly on a possible tick.
    after += draw(st.sampled_from([timedelta(0), timedelta(seconds=30), timedelta(microseconds=1)]))
    until += draw(st.sampled_from([timedelta(0), timedelta(seconds=-30), timedelta(microseconds=-1)]))
    return zone, after, max(after, until)


@st.composite
def dst_cases(draw: st.DrawFn) -> tuple[Expr, str, datetime, datetime]:
    """A window across an offset change and a schedule whose hours include the wall-clock
    hours on both sides of it, so that skipped and repeated wall times are named."""
    zone = draw(st.sampled_from(DST_ZONES))
    year = draw(st.integers(1996, 2060))
    changes = transitions(zone, year)
    assume(changes)
    anchor = draw(st.sampled_from(changes))
    z = ZoneInfo(zone)
    hours = {(anchor - timedelta(minutes=1)).astimezone(z).hour, anchor.astimezone(z).hour}
    hours |= set(draw(st.lists(st.integers(0, 23), max_size=2)))
    hour = Field(",".join(str(h) for h in sorted(hours)), frozenset(hours), True)
    minute = draw(field(MINUTE))
    every = (draw(field_from_text("*", DOM)), draw(field_from_text("*", MONTH)), draw(field_from_text("*", DOW)))
    fields = (minute, hour, *every)
    expr = Expr(" ".join(f.text for f in fields), fields)
    after = anchor - timedelta(minutes=draw(st.integers(0, 240)), seconds=draw(st.integers(0, 59)))
    until = anchor + timedelta(minutes=draw(st.integers(0, 240)), seconds=draw(st.integers(0, 59)))
    return expr, zone, after, until


def whole_minute_offsets(zone: str, *instants: datetime) -> bool:
    """Brute force walks UTC minutes, so every offset in play must be whole minutes."""
    z = ZoneInfo(zone)
    offsets = [t.astimezone(z).utcoffset() or timedelta(0) for t in instants]
    return all(offset % timedelta(minutes=1) == timedelta(0) for offset in offsets)


def oracle(expr: Expr, zone_name: str, after: datetime, until: datetime) -> list[datetime]:
    zone = ZoneInfo(zone_name)
    got: list[datetime] = []
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while t <= until:
        local = t.astimezone(zone)
        second_pass = local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()
        if not second_pass and expr.matches(local.replace(tzinfo=None)):
            got.append(t)
        t += timedelta(minutes=1)
    return got


def chain(step: Callable[[datetime], datetime | None], start: datetime, until: datetime, cap: int) -> list[datetime]:
    out: list[datetime] = []
    t = step(start)
    while t is not None and t <= until and len(out) < cap:
        out.append(t)
        t = step(t)
    return out


# --- properties --------------------------------------------------------------------------


@given(expressions())
def test_generated_expressions_parse_to_the_grammar_values(expr: Expr) -> None:
    schedule = parse_schedule(expr.text)
    minute, hour, dom, month, dow = expr.fields
    assert schedule.minutes == minute.values
    assert schedule.hours == hour.values
    assert schedule.days == dom.values
    assert schedule.months == month.values
    assert schedule.weekdays == dow.values
    assert schedule.day_or == (dom.restricted and dow.restricted)


@given(expressions(), windows(timedelta(hours=30)))
def test_ticks_equal_brute_force(expr: Expr, window: tuple[str, datetime, datetime]) -> None:
    zone, after, until = window
    assume(whole_minute_offsets(zone, after, until))
    got = list(parse_schedule(expr.text).ticks(zone, after, until))
    assert got == oracle(expr, zone, after, until)


@given(dst_cases())
def test_ticks_equal_brute_force_at_dst_changes(case: tuple[Expr, str, datetime, datetime]) -> None:
    expr, zone, after, until = case
    assume(whole_minute_offsets(zone, after, until))
    schedule = parse_schedule(expr.text)
    expected = oracle(expr, zone, after, until)
    assert list(schedule.ticks(zone, after, until)) == expected
    assert chain(lambda t: schedule.next_after(zone, t), after, until, 1000) == expected
    latest = schedule.previous_at_or_before(zone, until)
    if expected:
        assert latest == expected[-1]
    else:
        assert latest is None or latest <= after


@given(expressions(), windows(timedelta(days=3)))
def test_ticks_are_increasing_inside_and_matched(expr: Expr, window: tuple[str, datetime, datetime]) -> None:
    zone, after, until = window
    schedule = parse_schedule(expr.text)
    got = list(schedule.ticks(zone, after, until))
    z = ZoneInfo(zone)
    assert all(a < b for a, b in pairwise(got))
    for t in got:
        assert after < t <= until
        assert t.tzinfo is UTC
        local = t.astimezone(z)
        assert expr.matches(local.replace(tzinfo=None))
        assert schedule.matches_wall(local.replace(tzinfo=None))
        # Not the second pass of a repeated period: repeated wall times tick at their first.
        assert local.fold == 0 or local.replace(fold=0).utcoffset() == local.utcoffset()


@given(expressions(), windows(timedelta(days=2)))
def test_next_after_chain_reproduces_ticks(expr: Expr, window: tuple[str, datetime, datetime]) -> None:
    zone, after, until = window
    schedule = parse_schedule(expr.text)
    expected = list(schedule.ticks(zone, after, until))[:300]
    assert chain(lambda t: schedule.next_after(zone, t), after, until, 300) == expected


@given(expressions(), windows(timedelta(days=2)), st.floats(0, 1))
def test_split_window_gives_the_same_union(expr: Expr, window: tuple[str, datetime, datetime], fraction: float) -> None:
    zone, after, until = window
    middle = after + (until - after) * fraction
    if fraction > 0.5:
        middle = middle.replace(second=0, microsecond=0)  # on a tick boundary as often as not
        middle = min(max(middle, after), until)
    schedule = parse_schedule(expr.text)
    whole = list(schedule.ticks(zone, after, until))
    assert list(schedule.ticks(zone, after, middle)) + list(schedule.ticks(zone, middle, until)) == whole


@given(expressions(), windows(timedelta(days=2)))
def test_previous_at_or_before_is_the_latest_tick(expr: Expr, window: tuple[str, datetime, datetime]) -> None:
    zone, after, until = window
    schedule = parse_schedule(expr.text)
    got = list(schedule.ticks(zone, after, until))
    previous = schedule.previous_at_or_before(zone, until)
    if got:
        assert previous == got[-1]
    else:
        assert previous is None or previous <= after
    if previous is not None:
        # Nothing between it and ``until``, and it is a real tick.
        assert schedule.next_after(zone, previous - timedelta(microseconds=1)) == previous
        assert list(schedule.ticks(zone, previous, until)) == []


@given(expressions(), windows(timedelta(days=800)))
def test_long_windows_split_and_stay_ordered(expr: Expr, window: tuple[str, datetime, datetime]) -> None:
    zone, after, until = window
    schedule: Schedule = parse_schedule(expr.text)
    whole = []
    for t in schedule.ticks(zone, after, until):
        whole.append(t)
        if len(whole) == 500:
            until = t  # bound the work for dense schedules; the window ends at the last tick
            break
    assert all(a < b for a, b in pairwise(whole))
    middle = after + (until - after) / 3
    assert list(schedule.ticks(zone, after, middle)) + list(schedule.ticks(zone, middle, until)) == whole
