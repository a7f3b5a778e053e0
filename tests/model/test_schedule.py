"""Cron schedules (SPEC §12.1): syntax, matching, DST rules, ranges and RFC 3339."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from aether.model.schedule import (
    MACROS,
    ScheduleError,
    format_rfc3339_ms,
    parse_rfc3339,
    parse_schedule,
    resolve_zone,
    schedule_errors,
    valid_timezone,
)

pytestmark = pytest.mark.spec("12.1")

NY = "America/New_York"
BERLIN = "Europe/Berlin"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def ticks(expr: str, tz: str, after: datetime, until: datetime) -> list[datetime]:
    return list(parse_schedule(expr).ticks(tz, after, until))


def days_of(expr: str, first: date, last: date) -> list[int]:
    """Days of the month on which ``expr`` (a midnight schedule) ticks in UTC."""
    after = datetime.combine(first, datetime.min.time(), UTC) - timedelta(minutes=1)
    until = datetime.combine(last, datetime.min.time(), UTC)
    return [t.day for t in ticks(expr, "UTC", after, until)]


# --- syntax ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("*", set(range(60))),
        ("5", {5}),
        ("05", {5}),
        ("0-4", {0, 1, 2, 3, 4}),
        ("*/15", {0, 15, 30, 45}),
        ("10-30/10", {10, 20, 30}),
        ("50/4", {50, 54, 58}),
        ("1,2,3", {1, 2, 3}),
        ("1-3,10-14/2,59", {1, 2, 3, 10, 12, 14, 59}),
        ("0-59", set(range(60))),
        ("*/1", set(range(60))),
        ("*/100", {0}),
        ("7-7", {7}),
    ],
)
def test_minute_field_forms(field: str, expected: set[int]) -> None:
    assert parse_schedule(f"{field} * * * *").minutes == expected


def test_hour_field() -> None:
    assert parse_schedule("0 */6 * * *").hours == {0, 6, 12, 18}
    assert parse_schedule("0 9-17 * * *").hours == set(range(9, 18))


def test_day_of_month_forms() -> None:
    assert parse_schedule("0 0 */10 * *").days == {1, 11, 21, 31}
    assert parse_schedule("0 0 ? * *").days == set(range(1, 32))
    assert parse_schedule("0 0 ?/10 * *").days == {1, 11, 21, 31}
    assert parse_schedule("0 0 25/3 * *").days == {25, 28, 31}


def test_month_names_case_insensitive() -> None:
    assert parse_schedule("0 0 1 JAN-MAR *").months == {1, 2, 3}
    assert parse_schedule("0 0 1 jan,Jul,DEC *").months == {1, 7, 12}
    assert parse_schedule("0 0 1 */3 *").months == {1, 4, 7, 10}
    assert parse_schedule("0 0 1 feb/5 *").months == {2, 7, 12}
    assert parse_schedule("0 0 1 Oct-12 *").months == {10, 11, 12}


def test_day_of_week_names_and_sunday_seven() -> None:
    assert parse_schedule("0 0 * * MON-FRI").weekdays == {1, 2, 3, 4, 5}
    assert parse_schedule("0 0 * * sun,Sat").weekdays == {0, 6}
    for sunday in ("0", "7", "SUN", "sun"):
        assert parse_schedule(f"0 0 * * {sunday}").weekdays == {0}
    assert parse_schedule("0 0 * * 5-7").weekdays == {5, 6, 0}
    assert parse_schedule("0 0 * * 0-7").weekdays == set(range(7))
    assert parse_schedule("0 0 * * */2").weekdays == {0, 2, 4, 6}
    assert parse_schedule("0 0 * * 1/2").weekdays == {1, 3, 5}
    assert parse_schedule("0 0 * * ?").weekdays == set(range(7))


def test_sunday_seven_ticks_on_sunday() -> None:
    # 2026-03-01 is a Sunday.
    got = ticks("0 12 * * 7", "UTC", utc(2026, 2, 27), utc(2026, 3, 16))
    assert got == [utc(2026, 3, 1, 12), utc(2026, 3, 8, 12), utc(2026, 3, 15, 12)]
    assert got == ticks("0 12 * * SUN", "UTC", utc(2026, 2, 27), utc(2026, 3, 16))


def test_whitespace_between_fields() -> None:
    schedule = parse_schedule("  */5\t1   * *  * ")
    assert schedule.expanded == "*/5 1 * * *"
    assert schedule.text == "  */5\t1   * *  * "


@pytest.mark.parametrize(("macro", "expanded"), sorted(MACROS.items()))
def test_macros_expand(macro: str, expanded: str) -> None:
    schedule = parse_schedule(macro)
    assert schedule.text == macro
    assert schedule.expanded == expanded
    plain = parse_schedule(expanded)
    assert (schedule.minutes, schedule.hours, schedule.days, schedule.months, schedule.weekdays) == (
        plain.minutes,
        plain.hours,
        plain.days,
        plain.months,
        plain.weekdays,
    )
    assert schedule.day_or == plain.day_or


def test_macro_ticks() -> None:
    after = utc(2025, 12, 31, 23, 30)
    assert ticks("@hourly", "UTC", after, utc(2026, 1, 1, 2)) == [
        utc(2026, 1, 1, 0),
        utc(2026, 1, 1, 1),
        utc(2026, 1, 1, 2),
    ]
    assert ticks("@daily", "UTC", after, utc(2026, 1, 2)) == [utc(2026, 1, 1), utc(2026, 1, 2)]
    assert ticks("@midnight", "UTC", after, utc(2026, 1, 2)) == [utc(2026, 1, 1), utc(2026, 1, 2)]
    # 2026-01-04 is the first Sunday of 2026.
    assert ticks("@weekly", "UTC", after, utc(2026, 1, 12)) == [utc(2026, 1, 4), utc(2026, 1, 11)]
    assert ticks("@monthly", "UTC", after, utc(2026, 3, 1)) == [
        utc(2026, 1, 1),
        utc(2026, 2, 1),
        utc(2026, 3, 1),
    ]
    for yearly in ("@yearly", "@annually"):
        assert ticks(yearly, "UTC", after, utc(2028, 6, 1)) == [
            utc(2026, 1, 1),
            utc(2027, 1, 1),
            utc(2028, 1, 1),
        ]
    assert ticks("@daily", "Asia/Tokyo", utc(2026, 1, 1), utc(2026, 1, 2)) == [utc(2026, 1, 1, 15)]


def _field_message(text: str, field: str, value: str, problem: str) -> str:
    return f'spec.schedule "{text}": {field} "{value}": {problem}'


@pytest.mark.parametrize(
    ("text", "field", "value", "problem"),
    [
        ("60 * * * *", "minute", "60", "value 60 out of range 0-59"),
        ("* 24 * * *", "hour", "24", "value 24 out of range 0-23"),
        ("* * 0 * *", "day-of-month", "0", "value 0 out of range 1-31"),
        ("* * 32 * *", "day-of-month", "32", "value 32 out of range 1-31"),
        ("* * * 0 *", "month", "0", "value 0 out of range 1-12"),
        ("* * * 13 *", "month", "13", "value 13 out of range 1-12"),
        ("* * * * 8", "day-of-week", "8", "value 8 out of range 0-7"),
        ("* * * FOO *", "month", "FOO", 'unknown name "FOO"'),
        ("* * * * MONDAY", "day-of-week", "MONDAY", 'unknown name "MONDAY"'),
        ("* * * * JAN", "day-of-week", "JAN", 'unknown name "JAN"'),
        ("* * * MON *", "month", "MON", 'unknown name "MON"'),
        ("MON * * * *", "minute", "MON", 'invalid value "MON"'),
        ("x * * * *", "minute", "x", 'invalid value "x"'),
        ("1.5 * * * *", "minute", "1.5", 'invalid value "1.5"'),
        ("+5 * * * *", "minute", "+5", 'invalid value "+5"'),
        ("? * * * *", "minute", "?", '"?" is allowed only in day-of-month and day-of-week'),
        ("* * * ? *", "month", "?", '"?" is allowed only in day-of-month and day-of-week'),
        ("*/0 * * * *", "minute", "*/0", 'step "0" must be a positive integer'),
        ("*/ * * * *", "minute", "*/", 'step "" must be a positive integer'),
        ("*/x * * * *", "minute", "*/x", 'step "x" must be a positive integer'),
        ("1/2/3 * * * *", "minute", "1/2/3", 'step "2/3" must be a positive integer'),
        ("/5 * * * *", "minute", "/5", 'invalid element "/5"'),
        ("5-3 * * * *", "minute", "5-3", 'range "5-3" has its start after its end'),
        ("* * * * FRI-MON", "day-of-week", "FRI-MON", 'range "FRI-MON" has its start after its end'),
        ("-1 * * * *", "minute", "-1", 'invalid range "-1"'),
        ("1- * * * *", "minute", "1-", 'invalid range "1-"'),
        ("1-2-3 * * * *", "minute", "1-2-3", 'invalid range "1-2-3"'),
        ("1-60 * * * *", "minute", "1-60", "value 60 out of range 0-59"),
        ("1,,2 * * * *", "minute", "1,,2", "empty list element"),
        ("1, * * * *", "minute", "1,", "empty list element"),
        (",1 * * * *", "minute", ",1", "empty list element"),
        ("*-5 * * * *", "minute", "*-5", 'invalid value "*"'),
        ("L * * * *", "minute", "L", 'invalid value "L"'),
        ("* * L * *", "day-of-month", "L", 'invalid value "L"'),
        ("* * 15W * *", "day-of-month", "15W", 'invalid value "15W"'),
        ("* * * * 5#3", "day-of-week", "5#3", 'invalid value "5#3"'),
        ("* * * * 5L", "day-of-week", "5L", 'invalid value "5L"'),
    ],
)
def test_field_errors(text: str, field: str, value: str, problem: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        parse_schedule(text)
    assert raised.value.code == "E-CRON-FIELD"
    assert raised.value.message == _field_message(text, field, value, problem)
    assert str(raised.value) == raised.value.message


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "* * * *",
        "* * * * * *",
        "0 0 * * * 2026",
        "@every 5m",
        "@reboot",
        "@DAILY",
        "@",
        "daily",
        "CRON_TZ=UTC 0 0 * * *",
        "@daily extra",
    ],
)
def test_shape_errors(text: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        parse_schedule(text)
    assert raised.value.code == "E-CRON-SCHEDULE"
    assert raised.value.message == (
        f'spec.schedule "{text}" must be a 5-field cron expression or a macro (@hourly, @daily, etc.)'
    )


def test_schedule_errors_reports_every_bad_field() -> None:
    text = "60 * 0 * 9"
    errors = schedule_errors(text)
    assert [(e.code, e.message) for e in errors] == [
        ("E-CRON-FIELD", _field_message(text, "minute", "60", "value 60 out of range 0-59")),
        ("E-CRON-FIELD", _field_message(text, "day-of-month", "0", "value 0 out of range 1-31")),
        ("E-CRON-FIELD", _field_message(text, "day-of-week", "9", "value 9 out of range 0-7")),
    ]
    assert schedule_errors("*/5 * * * *") == []


# --- day-of-month / day-of-week --------------------------------------------------------


def test_both_day_fields_restricted_match_either() -> None:
    # April 2026: the 1st is a Wednesday; Fridays are 3, 10, 17, 24; the 13th is a Monday.
    april = (date(2026, 4, 1), date(2026, 4, 30))
    assert days_of("0 0 13 * 5", *april) == [3, 10, 13, 17, 24]
    assert days_of("0 0 13 * FRI", *april) == [3, 10, 13, 17, 24]
    # A step makes a field restricted: odd days or Mondays (6, 20 and 27 are even Mondays).
    assert days_of("0 0 */2 * 1", *april) == [1, 3, 5, 6, 7, 9, 11, 13, 15, 17, 19, 20, 21, 23, 25, 27, 29]
    # A full range is still a restriction, so OR makes it every day.
    assert days_of("0 0 1-31 * 1", *april) == list(range(1, 31))
    assert days_of("0 0 15 * 0-6", *april) == list(range(1, 31))
    # April has no 31st: the day-of-week side still ticks.
    assert days_of("0 0 31 * MON", *april) == [6, 13, 20, 27]


def test_one_day_field_unrestricted_means_the_other() -> None:
    april = (date(2026, 4, 1), date(2026, 4, 30))
    assert days_of("0 0 * * 5", *april) == [3, 10, 17, 24]
    assert days_of("0 0 ? * 5", *april) == [3, 10, 17, 24]
    assert days_of("0 0 */1 * 5", *april) == [3, 10, 17, 24]
    assert days_of("0 0 13 * *", *april) == [13]
    assert days_of("0 0 13 * ?", *april) == [13]
    assert days_of("0 0 13 * *,5", *april) == [13]


def test_matches_wall() -> None:
    schedule = parse_schedule("30 9 13 * 5")
    assert schedule.matches_wall(datetime(2026, 4, 13, 9, 30))  # the 13th, a Monday
    assert schedule.matches_wall(datetime(2026, 4, 17, 9, 30))  # a Friday
    assert not schedule.matches_wall(datetime(2026, 4, 14, 9, 30))
    assert not schedule.matches_wall(datetime(2026, 4, 17, 9, 31))
    assert not schedule.matches_wall(datetime(2026, 4, 17, 9, 30, 1))


def test_impossible_dates_never_tick() -> None:
    for text in ("0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 FEB *"):
        schedule = parse_schedule(text)
        assert not schedule.possible
        assert list(schedule.ticks("UTC", utc(2000, 1, 1), utc(2100, 1, 1))) == []
        assert schedule.next_after("UTC", utc(2026, 1, 1)) is None
        assert schedule.previous_at_or_before("UTC", utc(2026, 1, 1)) is None


def test_leap_day() -> None:
    schedule = parse_schedule("0 0 29 2 *")
    assert schedule.possible
    assert schedule.next_after("UTC", utc(2026, 1, 1)) == utc(2028, 2, 29)
    assert schedule.next_after("UTC", utc(2096, 3, 1)) == utc(2104, 2, 29)  # 2100 is not leap
    assert schedule.previous_at_or_before("UTC", utc(2026, 1, 1)) == utc(2024, 2, 29)


# --- ranges ------------------------------------------------------------------------------


def test_ticks_window_is_open_closed() -> None:
    got = ticks("*/10 * * * *", "UTC", utc(2026, 3, 1, 10, 0), utc(2026, 3, 1, 10, 30))
    assert got == [utc(2026, 3, 1, 10, 10), utc(2026, 3, 1, 10, 20), utc(2026, 3, 1, 10, 30)]
    # Sub-minute bounds.
    after = utc(2026, 3, 1, 10, 0) + timedelta(microseconds=1)
    until = utc(2026, 3, 1, 10, 30) - timedelta(microseconds=1)
    assert ticks("*/10 * * * *", "UTC", after, until) == [utc(2026, 3, 1, 10, 10), utc(2026, 3, 1, 10, 20)]
    assert ticks("*/10 * * * *", "UTC", utc(2026, 3, 1, 10), utc(2026, 3, 1, 10)) == []
    assert ticks("*/10 * * * *", "UTC", utc(2026, 3, 1, 11), utc(2026, 3, 1, 10)) == []


def test_ticks_are_utc_for_any_input_offset() -> None:
    plus_two = timezone(timedelta(hours=2))
    got = ticks("0 * * * *", "UTC", datetime(2026, 3, 1, 12, tzinfo=plus_two), utc(2026, 3, 1, 12))
    assert got == [utc(2026, 3, 1, 11), utc(2026, 3, 1, 12)]
    assert all(t.tzinfo is UTC for t in got)


def test_ticks_in_is_half_open() -> None:
    schedule = parse_schedule("0 * * * *")
    got = list(schedule.ticks_in("UTC", utc(2026, 3, 1, 10), utc(2026, 3, 1, 13)))
    assert got == [utc(2026, 3, 1, 10), utc(2026, 3, 1, 11), utc(2026, 3, 1, 12)]


def test_next_after_and_previous() -> None:
    schedule = parse_schedule("0 9 * * MON-FRI")
    # 2026-03-06 is a Friday.
    assert schedule.next_after("UTC", utc(2026, 3, 6, 9)) == utc(2026, 3, 9, 9)
    assert schedule.next_after("UTC", utc(2026, 3, 6, 8, 59, 59)) == utc(2026, 3, 6, 9)
    assert schedule.previous_at_or_before("UTC", utc(2026, 3, 6, 9)) == utc(2026, 3, 6, 9)
    assert schedule.previous_at_or_before("UTC", utc(2026, 3, 6, 8, 59, 59)) == utc(2026, 3, 5, 9)
    assert schedule.previous_at_or_before("UTC", utc(2026, 3, 8, 23)) == utc(2026, 3, 6, 9)


def test_naive_datetimes_are_rejected() -> None:
    schedule = parse_schedule("* * * * *")
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule.next_after("UTC", datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        list(schedule.ticks("UTC", utc(2026, 1, 1), datetime(2026, 1, 2)))
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule.previous_at_or_before("UTC", datetime(2026, 1, 1))


def test_unknown_zone_is_rejected() -> None:
    with pytest.raises(ValueError, match='unknown time zone "Mars/Olympus"'):
        parse_schedule("* * * * *").next_after("Mars/Olympus", utc(2026, 1, 1))


def test_every_minute_for_three_days_is_fast() -> None:
    started = time.perf_counter()
    got = ticks("* * * * *", NY, utc(2026, 3, 7), utc(2026, 3, 10))
    elapsed = time.perf_counter() - started
    # 72 hours of UTC minutes; the skipped local hour is not a UTC hour, so nothing is lost.
    assert len(got) == 72 * 60
    assert got[0] == utc(2026, 3, 7, 0, 1) and got[-1] == utc(2026, 3, 10)
    assert elapsed < 5, elapsed


def test_yearly_over_centuries_does_not_walk_minutes() -> None:
    started = time.perf_counter()
    got = ticks("@yearly", BERLIN, utc(1990, 6, 1), utc(2290, 6, 1))
    assert len(got) == 300
    assert got[0] == utc(1990, 12, 31, 23)  # midnight CET
    assert time.perf_counter() - started < 2


# --- DST ---------------------------------------------------------------------------------
# America/New_York 2026: spring forward Mar 8 02:00 EST -> 03:00 EDT (07:00Z),
#                        fall back Nov 1 02:00 EDT -> 01:00 EST (06:00Z).
# Europe/Berlin 2026:    spring forward Mar 29 02:00 CET -> 03:00 CEST (01:00Z),
#                        fall back Oct 25 03:00 CEST -> 02:00 CET (01:00Z).


def test_new_york_spring_forward_skips_missing_time() -> None:
    assert ticks("30 2 * * *", NY, utc(2026, 3, 6), utc(2026, 3, 10)) == [
        utc(2026, 3, 6, 7, 30),  # 02:30 EST
        utc(2026, 3, 7, 7, 30),
        # Mar 8: 02:30 does not exist; no tick (croniter alone fires at 03:00 EDT).
        utc(2026, 3, 9, 6, 30),  # 02:30 EDT
    ]


def test_new_york_spring_forward_hourly() -> None:
    assert ticks("0 * * * *", NY, utc(2026, 3, 8, 4), utc(2026, 3, 8, 9)) == [
        utc(2026, 3, 8, 5),  # 00:00 EST
        utc(2026, 3, 8, 6),  # 01:00 EST
        utc(2026, 3, 8, 7),  # 03:00 EDT; 02:00 never happened
        utc(2026, 3, 8, 8),
        utc(2026, 3, 8, 9),
    ]
    assert ticks("*/20 2 * * *", NY, utc(2026, 3, 8), utc(2026, 3, 9)) == []


def test_new_york_fall_back_repeated_time_once() -> None:
    assert ticks("30 1 * * *", NY, utc(2026, 10, 31), utc(2026, 11, 3)) == [
        utc(2026, 10, 31, 5, 30),  # 01:30 EDT
        utc(2026, 11, 1, 5, 30),  # first 01:30 (EDT); the 01:30 EST an hour later does not tick
        utc(2026, 11, 2, 6, 30),  # 01:30 EST
    ]


def test_new_york_fall_back_hourly() -> None:
    assert ticks("0 * * * *", NY, utc(2026, 11, 1, 3), utc(2026, 11, 1, 9)) == [
        utc(2026, 11, 1, 4),  # 00:00 EDT
        utc(2026, 11, 1, 5),  # 01:00 EDT
        utc(2026, 11, 1, 7),  # 02:00 EST; the second 01:00 (06:00Z) does not tick
        utc(2026, 11, 1, 8),
        utc(2026, 11, 1, 9),
    ]
    assert ticks("*/15 1 * * *", NY, utc(2026, 11, 1), utc(2026, 11, 2)) == [
        utc(2026, 11, 1, 5, 0),
        utc(2026, 11, 1, 5, 15),
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 1, 5, 45),
    ]


def test_new_york_fall_back_from_inside_the_second_pass() -> None:
    schedule = parse_schedule("*/15 * * * *")
    second_pass = utc(2026, 11, 1, 6, 20)  # 01:20 EST, the second 01:20
    assert schedule.next_after(NY, second_pass) == utc(2026, 11, 1, 7)  # 02:00 EST
    assert list(schedule.ticks(NY, second_pass, utc(2026, 11, 1, 7, 15))) == [
        utc(2026, 11, 1, 7),
        utc(2026, 11, 1, 7, 15),
    ]
    # The latest tick at or before it is the first pass's 01:45 EDT.
    assert schedule.previous_at_or_before(NY, second_pass) == utc(2026, 11, 1, 5, 45)
    assert parse_schedule("0 * * * *").previous_at_or_before(NY, second_pass) == utc(2026, 11, 1, 5)
    assert parse_schedule("30 1 * * *").previous_at_or_before(NY, utc(2026, 11, 1, 6, 59)) == utc(2026, 11, 1, 5, 30)
    assert parse_schedule("0 2 * * *").previous_at_or_before(NY, second_pass) == utc(2026, 10, 31, 6)


def test_new_york_previous_across_the_gap() -> None:
    schedule = parse_schedule("30 2 * * *")
    assert schedule.previous_at_or_before(NY, utc(2026, 3, 8, 23)) == utc(2026, 3, 7, 7, 30)
    assert schedule.next_after(NY, utc(2026, 3, 7, 8)) == utc(2026, 3, 9, 6, 30)


def test_berlin_spring_forward() -> None:
    assert ticks("30 2 * * *", BERLIN, utc(2026, 3, 27), utc(2026, 3, 31)) == [
        utc(2026, 3, 27, 1, 30),  # 02:30 CET
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST; none on Mar 29
    ]
    assert ticks("0 * * * *", BERLIN, utc(2026, 3, 28, 23), utc(2026, 3, 29, 3)) == [
        utc(2026, 3, 29, 0),  # 01:00 CET
        utc(2026, 3, 29, 1),  # 03:00 CEST
        utc(2026, 3, 29, 2),
        utc(2026, 3, 29, 3),
    ]


def test_berlin_fall_back() -> None:
    assert ticks("30 2 * * *", BERLIN, utc(2026, 10, 23), utc(2026, 10, 27)) == [
        utc(2026, 10, 23, 0, 30),  # 02:30 CEST
        utc(2026, 10, 24, 0, 30),
        utc(2026, 10, 25, 0, 30),  # the first 02:30 (CEST); not 01:30Z too
        utc(2026, 10, 26, 1, 30),  # 02:30 CET
    ]
    assert ticks("0 * * * *", BERLIN, utc(2026, 10, 24, 22), utc(2026, 10, 25, 3)) == [
        utc(2026, 10, 24, 23),  # 01:00 CEST
        utc(2026, 10, 25, 0),  # 02:00 CEST
        utc(2026, 10, 25, 2),  # 03:00 CET; the second 02:00 (01:00Z) does not tick
        utc(2026, 10, 25, 3),
    ]


def test_midnight_transition_skips_a_daily_tick() -> None:
    # America/Sao_Paulo sprang forward at midnight on 2018-11-04: 00:00 did not occur.
    got = ticks("@daily", "America/Sao_Paulo", utc(2018, 11, 2), utc(2018, 11, 6))
    assert got == [utc(2018, 11, 2, 3), utc(2018, 11, 3, 3), utc(2018, 11, 5, 2)]


def test_half_hour_dst_shift() -> None:
    # Australia/Lord_Howe falls back 30 minutes: 02:00 (+11) -> 01:30 (+10:30) on 2026-04-05.
    got = ticks("*/15 1 * * *", "Australia/Lord_Howe", utc(2026, 4, 4), utc(2026, 4, 5))
    assert got == [
        utc(2026, 4, 4, 14, 0),
        utc(2026, 4, 4, 14, 15),
        utc(2026, 4, 4, 14, 30),  # 01:30 (+11), first occurrence
        utc(2026, 4, 4, 14, 45),  # 01:45 (+11); the repeat at 15:15Z does not tick
    ]


# --- zones -------------------------------------------------------------------------------


def test_valid_timezone() -> None:
    for name in ("UTC", "America/New_York", "Europe/Berlin", "Etc/GMT+5", "Asia/Kathmandu"):
        assert valid_timezone(name), name
    for name in ("", "Local", "Mars/Olympus", "America", "utc ", "../etc/passwd", "/UTC", "x" * 5000):
        assert not valid_timezone(name), name


def test_empty_zone_is_utc() -> None:
    assert resolve_zone("") is UTC
    assert ticks("0 0 * * *", "", utc(2026, 1, 1), utc(2026, 1, 2)) == [utc(2026, 1, 2)]


# --- RFC 3339 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T10:00:00Z", utc(2026, 3, 1, 10)),
        ("2026-03-01t10:00:00z", utc(2026, 3, 1, 10)),
        ("2026-03-01T10:00:00.5Z", utc(2026, 3, 1, 10, 0, 0, 500_000)),
        ("2026-03-01T10:00:00.123456789Z", utc(2026, 3, 1, 10, 0, 0, 123_456)),
        ("2026-03-01T12:00:00+02:00", utc(2026, 3, 1, 10)),
        ("2026-03-01T05:30:00-04:30", utc(2026, 3, 1, 10)),
        ("2024-02-29T00:00:00Z", utc(2024, 2, 29)),
    ],
)
def test_parse_rfc3339(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("2026-03-01", "expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM"),
        ("2026-03-01T10:00:00", "expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM"),
        ("2026-03-01 10:00:00Z", "expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM"),
        ("2026-03-01T10:00Z", "expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM"),
        ("2026-03-01T10:00:00.Z", "expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM"),
        ("2026-03-01T10:00:00+0200", "expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM"),
        ("tomorrow", "expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM"),
        ("0000-01-01T00:00:00Z", "year out of range"),
        ("2026-13-01T00:00:00Z", "month out of range"),
        ("2026-00-01T00:00:00Z", "month out of range"),
        ("2026-02-29T00:00:00Z", "day out of range"),
        ("2026-04-31T00:00:00Z", "day out of range"),
        ("2026-04-00T00:00:00Z", "day out of range"),
        ("2026-04-01T24:00:00Z", "hour out of range"),
        ("2026-04-01T23:60:00Z", "minute out of range"),
        ("2026-04-01T23:59:60Z", "second out of range"),
        ("2026-04-01T23:59:59+24:00", "time zone offset out of range"),
        ("2026-04-01T23:59:59+01:60", "time zone offset out of range"),
        ("0001-01-01T00:00:00+01:00", "time out of range"),
    ],
)
def test_parse_rfc3339_errors(text: str, detail: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_rfc3339(text)
    assert str(raised.value) == detail


def test_format_rfc3339_ms() -> None:
    assert format_rfc3339_ms(utc(2026, 3, 1, 10)) == "2026-03-01T10:00:00.000Z"
    assert format_rfc3339_ms(utc(2026, 3, 1, 10, 0, 5, 123_999)) == "2026-03-01T10:00:05.123Z"
    plus_two = timezone(timedelta(hours=2))
    assert format_rfc3339_ms(datetime(2026, 3, 1, 0, 30, tzinfo=plus_two)) == "2026-02-28T22:30:00.000Z"
    assert format_rfc3339_ms(utc(5, 1, 1)) == "0005-01-01T00:00:00.000Z"
    with pytest.raises(ValueError):
        format_rfc3339_ms(datetime(2026, 3, 1))
    assert parse_rfc3339(format_rfc3339_ms(utc(2026, 3, 1, 10, 0, 5, 123_000))) == utc(2026, 3, 1, 10, 0, 5, 123_000)
