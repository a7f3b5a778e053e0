"""CronWorkflow field rules of SPEC §3.3.10 (workflowSpec rules are validated elsewhere)."""

from __future__ import annotations

from typing import Any

import pytest

from aether.model.problems import Problem, error, warning
from aether.model.types import CronWorkflowSpec
from aether.model.validate_cron import validate_cron_fields

pytestmark = pytest.mark.spec("3.3.10")


def spec(**fields: Any) -> CronWorkflowSpec:
    fields.setdefault("schedule", "*/5 * * * *")
    return CronWorkflowSpec(**fields)


def problems(**fields: Any) -> list[Problem]:
    return validate_cron_fields(spec(**fields))


def test_valid_spec_has_no_problems() -> None:
    full = spec(
        schedule="0 9 * * MON-FRI",
        timezone="Europe/Berlin",
        start_at="2026-03-01T00:00:00Z",
        end_at="2026-12-31T23:59:59.999+01:00",
        concurrency_policy="Forbid",
        starting_deadline_seconds=60,
        successful_jobs_history_limit=0,
        failed_jobs_history_limit=0,
        suspend=True,
        catchup="all",
        catchup_window="1d12h",
    )
    assert validate_cron_fields(full) == []
    assert validate_cron_fields(spec()) == []
    for macro in ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"):
        assert problems(schedule=macro) == []


@pytest.mark.parametrize("schedule", [None, "", "   "])
def test_schedule_required(schedule: str | None) -> None:
    assert problems(schedule=schedule) == [
        error("E-CRON-SCHEDULE-REQUIRED", "$.spec.schedule", "spec.schedule is required")
    ]


def test_schedule_shape() -> None:
    assert problems(schedule="* * * *") == [
        error(
            "E-CRON-SCHEDULE",
            "$.spec.schedule",
            'spec.schedule "* * * *" must be a 5-field cron expression or a macro (@hourly, @daily, etc.)',
        )
    ]


def test_schedule_fields_each_reported() -> None:
    text = "60 * * JANUARY *"
    assert problems(schedule=text) == [
        error("E-CRON-FIELD", "$.spec.schedule", f'spec.schedule "{text}": minute "60": value 60 out of range 0-59'),
        error("E-CRON-FIELD", "$.spec.schedule", f'spec.schedule "{text}": month "JANUARY": unknown name "JANUARY"'),
    ]


def test_timezone_unknown() -> None:
    assert problems(timezone="Mars/Olympus") == [
        error("E-CRON-TIMEZONE", "$.spec.timezone", 'spec.timezone "Mars/Olympus": unknown time zone')
    ]
    assert problems(timezone="America") == [
        error("E-CRON-TIMEZONE", "$.spec.timezone", 'spec.timezone "America": unknown time zone')
    ]


@pytest.mark.parametrize("tz", [None, "", "UTC", "America/New_York", "Asia/Kathmandu", "Etc/GMT-14"])
def test_timezone_known_or_default(tz: str | None) -> None:
    assert problems(timezone=tz) == []


def test_local_timezone_resolved() -> None:
    local = spec(timezone="Local")
    assert validate_cron_fields(local, host_timezone="Europe/Berlin") == [
        warning("W-CRON-LOCAL-TZ", "$.spec.timezone", 'timezone Local resolved to "Europe/Berlin"')
    ]
    # Without a host zone from the caller there is nothing to resolve to, and Local is no error.
    assert validate_cron_fields(local) == []


def test_start_at_invalid() -> None:
    assert problems(start_at="2026-03-01") == [
        error(
            "E-CRON-START-AT",
            "$.spec.startAt",
            'spec.startAt "2026-03-01": must be valid RFC3339: '
            "expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM",
        )
    ]


def test_end_at_invalid() -> None:
    assert problems(end_at="2026-02-30T00:00:00Z") == [
        error(
            "E-CRON-END-AT",
            "$.spec.endAt",
            'spec.endAt "2026-02-30T00:00:00Z": must be valid RFC3339: day out of range',
        )
    ]


def test_start_and_end_fractional_seconds_and_offsets() -> None:
    assert problems(start_at="2026-03-01T10:00:00.123456Z", end_at="2026-03-01T11:00:00.5+00:30") == []


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-03-02T00:00:00Z", "2026-03-01T00:00:00Z"),
        ("2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z"),
        # The same instant written with two offsets is not "after".
        ("2026-03-01T00:00:00Z", "2026-03-01T01:00:00+01:00"),
    ],
)
def test_end_before_start(start: str, end: str) -> None:
    assert problems(start_at=start, end_at=end) == [
        error("E-CRON-END-BEFORE-START", "$.spec.endAt", "spec.endAt must be after spec.startAt")
    ]


def test_end_before_start_needs_both_valid() -> None:
    assert [p.code for p in problems(start_at="bad", end_at="2000-01-01T00:00:00Z")] == ["E-CRON-START-AT"]
    assert [p.code for p in problems(start_at="bad", end_at="worse")] == ["E-CRON-START-AT", "E-CRON-END-AT"]
    assert problems(end_at="2000-01-01T00:00:00Z") == []


@pytest.mark.parametrize("policy", ["allow", "FORBID", "Queue", " Allow"])
def test_policy_unknown(policy: str) -> None:
    assert problems(concurrency_policy=policy) == [
        error(
            "E-CRON-POLICY",
            "$.spec.concurrencyPolicy",
            f'spec.concurrencyPolicy "{policy}": must be Allow, Forbid, or Replace',
        )
    ]


@pytest.mark.parametrize("policy", [None, "", "Allow", "Forbid", "Replace"])
def test_policy_known_or_default(policy: str | None) -> None:
    assert problems(concurrency_policy=policy) == []


@pytest.mark.parametrize("seconds", [0, -1])
def test_deadline_must_be_positive(seconds: int) -> None:
    assert problems(starting_deadline_seconds=seconds) == [
        error("E-CRON-DEADLINE", "$.spec.startingDeadlineSeconds", "spec.startingDeadlineSeconds must be > 0")
    ]
    assert problems(starting_deadline_seconds=1) == []


def test_history_limits() -> None:
    assert problems(successful_jobs_history_limit=-1) == [
        error(
            "E-CRON-HISTORY",
            "$.spec.successfulJobsHistoryLimit",
            "spec.successfulJobsHistoryLimit must be >= 0",
        )
    ]
    assert problems(failed_jobs_history_limit=-3) == [
        error("E-CRON-HISTORY", "$.spec.failedJobsHistoryLimit", "spec.failedJobsHistoryLimit must be >= 0")
    ]
    assert problems(successful_jobs_history_limit=0, failed_jobs_history_limit=0) == []


@pytest.mark.parametrize("mode", ["Latest", "ALL", "some", "never"])
def test_catchup_mode(mode: str) -> None:
    assert problems(catchup=mode) == [
        error("E-CRON-CATCHUP", "$.spec.catchup", f'spec.catchup "{mode}": must be none, latest, or all')
    ]


@pytest.mark.parametrize("mode", [None, "", "none", "latest", "all"])
def test_catchup_mode_known(mode: str | None) -> None:
    assert problems(catchup=mode) == []


@pytest.mark.parametrize("window", ["0s", "0", "soon", "-1h", "1 h"])
def test_catchup_window(window: str) -> None:
    assert problems(catchup_window=window) == [
        error(
            "E-CRON-CATCHUP",
            "$.spec.catchupWindow",
            f'spec.catchupWindow "{window}": must be a duration > 0',
        )
    ]


@pytest.mark.parametrize("window", [None, "", "1h", "30m", "1.5h", "2d", "1d12h", "500ms"])
def test_catchup_window_valid(window: str | None) -> None:
    assert problems(catchup_window=window) == []


def test_custom_path_prefix() -> None:
    got = validate_cron_fields(spec(schedule="", timezone="Nowhere"), "$.items[3].spec")
    assert [(p.code, p.path) for p in got] == [
        ("E-CRON-SCHEDULE-REQUIRED", "$.items[3].spec.schedule"),
        ("E-CRON-TIMEZONE", "$.items[3].spec.timezone"),
    ]


def test_every_problem_in_table_order() -> None:
    everything = spec(
        schedule="61 * * * *",
        timezone="Nowhere/Land",
        start_at="2026-03-02T00:00:00Z",
        end_at="2026-03-01T00:00:00Z",
        concurrency_policy="Sometimes",
        starting_deadline_seconds=0,
        successful_jobs_history_limit=-1,
        failed_jobs_history_limit=-1,
        catchup="most",
        catchup_window="0s",
    )
    assert [(p.code, p.path) for p in validate_cron_fields(everything)] == [
        ("E-CRON-FIELD", "$.spec.schedule"),
        ("E-CRON-TIMEZONE", "$.spec.timezone"),
        ("E-CRON-END-BEFORE-START", "$.spec.endAt"),
        ("E-CRON-POLICY", "$.spec.concurrencyPolicy"),
        ("E-CRON-DEADLINE", "$.spec.startingDeadlineSeconds"),
        ("E-CRON-HISTORY", "$.spec.successfulJobsHistoryLimit"),
        ("E-CRON-HISTORY", "$.spec.failedJobsHistoryLimit"),
        ("E-CRON-CATCHUP", "$.spec.catchup"),
        ("E-CRON-CATCHUP", "$.spec.catchupWindow"),
    ]
    local = spec(schedule="* * * *", timezone="Local", start_at="x", end_at="y")
    assert [p.code for p in validate_cron_fields(local, host_timezone="UTC")] == [
        "E-CRON-SCHEDULE",
        "E-CRON-START-AT",
        "E-CRON-END-AT",
        "W-CRON-LOCAL-TZ",
    ]
    assert all(p.is_error for p in validate_cron_fields(everything))


def test_values_of_the_wrong_type_are_left_to_the_loader() -> None:
    # E-TYPE is reported when decoding; validation must not raise on such values.
    wrong_types: dict[str, Any] = {
        "schedule": 5,
        "timezone": 3,
        "start_at": 1,
        "concurrency_policy": True,
        "starting_deadline_seconds": "1",
        "successful_jobs_history_limit": -1.5,
        "failed_jobs_history_limit": True,
        "catchup": [],
        "catchup_window": 0,
    }
    odd = CronWorkflowSpec(**wrong_types)
    assert validate_cron_fields(odd) == []
