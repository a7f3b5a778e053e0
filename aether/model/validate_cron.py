"""CronWorkflow field rules of SPEC §3.3.10, except those of ``workflowSpec`` (validated as a
Workflow by the caller, which also calls this).

Problems come in the order of §3.3.10's table. A field that is absent (``None``) or, for
the string fields, empty takes its default and is not checked: Go's JSON decoding, which
the reference engine uses, cannot tell an empty string from a missing field, so it
accepts both. Values of the wrong JSON type are the loader's business (E-TYPE); they are
skipped here so that validation never raises.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeGuard

from aether.model.durations import parse_duration_nanos
from aether.model.problems import Problem, error, warning
from aether.model.schedule import parse_rfc3339, schedule_errors, valid_timezone
from aether.model.types import CronWorkflowSpec

POLICIES = ("Allow", "Forbid", "Replace")
CATCHUP_MODES = ("none", "latest", "all")
LOCAL_TIMEZONE = "Local"


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _set_string(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value != ""


def _schedule(spec: CronWorkflowSpec, path: str) -> list[Problem]:
    at = f"{path}.schedule"
    schedule = spec.schedule
    if schedule is None or (isinstance(schedule, str) and schedule.strip() == ""):
        return [error("E-CRON-SCHEDULE-REQUIRED", at, "spec.schedule is required")]
    if not isinstance(schedule, str):
        return []
    return [error(e.code, at, e.message) for e in schedule_errors(schedule)]


def _timezone(spec: CronWorkflowSpec, path: str) -> list[Problem]:
    tz = spec.timezone
    if not _set_string(tz) or tz == LOCAL_TIMEZONE:
        return []
    if valid_timezone(tz):
        return []
    return [error("E-CRON-TIMEZONE", f"{path}.timezone", f'spec.timezone "{tz}": unknown time zone')]


def _instant(value: str | None, wire: str, code: str, path: str, problems: list[Problem]) -> datetime | None:
    """Parse ``startAt``/``endAt``, reporting a problem; ``None`` when absent or invalid."""
    if not _set_string(value):
        return None
    try:
        return parse_rfc3339(value)
    except ValueError as exc:
        message = f'spec.{wire} "{value}": must be valid RFC3339: {exc}'
        problems.append(error(code, f"{path}.{wire}", message))
        return None


def _window(spec: CronWorkflowSpec, path: str) -> list[Problem]:
    problems: list[Problem] = []
    start = _instant(spec.start_at, "startAt", "E-CRON-START-AT", path, problems)
    end = _instant(spec.end_at, "endAt", "E-CRON-END-AT", path, problems)
    if start is not None and end is not None and end <= start:
        problems.append(error("E-CRON-END-BEFORE-START", f"{path}.endAt", "spec.endAt must be after spec.startAt"))
    return problems


def _policy(spec: CronWorkflowSpec, path: str) -> list[Problem]:
    policy = spec.concurrency_policy
    if not _set_string(policy) or policy in POLICIES:
        return []
    message = f'spec.concurrencyPolicy "{policy}": must be Allow, Forbid, or Replace'
    return [error("E-CRON-POLICY", f"{path}.concurrencyPolicy", message)]


def _deadline(spec: CronWorkflowSpec, path: str) -> list[Problem]:
    seconds = spec.starting_deadline_seconds
    if _is_int(seconds) and seconds <= 0:
        return [
            error(
                "E-CRON-DEADLINE",
                f"{path}.startingDeadlineSeconds",
                "spec.startingDeadlineSeconds must be > 0",
            )
        ]
    return []


def _history(spec: CronWorkflowSpec, path: str) -> list[Problem]:
    problems: list[Problem] = []
    for wire, limit in (
        ("successfulJobsHistoryLimit", spec.successful_jobs_history_limit),
        ("failedJobsHistoryLimit", spec.failed_jobs_history_limit),
    ):
        if _is_int(limit) and limit < 0:
            problems.append(error("E-CRON-HISTORY", f"{path}.{wire}", f"spec.{wire} must be >= 0"))
    return problems


def _catchup(spec: CronWorkflowSpec, path: str) -> list[Problem]:
    problems: list[Problem] = []
    mode = spec.catchup
    if _set_string(mode) and mode not in CATCHUP_MODES:
        message = f'spec.catchup "{mode}": must be none, latest, or all'
        problems.append(error("E-CRON-CATCHUP", f"{path}.catchup", message))
    window = spec.catchup_window
    if _set_string(window):
        nanos = parse_duration_nanos(window)
        if nanos is None or nanos <= 0:
            # §3.3.10 gives no shape for the window; this one mirrors the catchup message.
            message = f'spec.catchupWindow "{window}": must be a duration > 0'
            problems.append(error("E-CRON-CATCHUP", f"{path}.catchupWindow", message))
    return problems


def _local_timezone(spec: CronWorkflowSpec, path: str, host_timezone: str | None) -> list[Problem]:
    # The host zone is the caller's to find (this layer reads no clock or environment);
    # without it there is nothing to report the resolution to.
    if spec.timezone != LOCAL_TIMEZONE or host_timezone is None:
        return []
    message = f'timezone Local resolved to "{host_timezone}"'
    return [warning("W-CRON-LOCAL-TZ", f"{path}.timezone", message)]


def validate_cron_fields(
    spec: CronWorkflowSpec, path: str = "$.spec", *, host_timezone: str | None = None
) -> list[Problem]:
    """Every §3.3.10 problem of a CronWorkflowSpec's own fields, in the table's order.

    ``host_timezone`` is the IANA name ``timezone: Local`` resolves to (W-CRON-LOCAL-TZ).
    """
    return [
        *_schedule(spec, path),
        *_timezone(spec, path),
        *_window(spec, path),
        *_policy(spec, path),
        *_deadline(spec, path),
        *_history(spec, path),
        *_catchup(spec, path),
        *_local_timezone(spec, path, host_timezone),
    ]
