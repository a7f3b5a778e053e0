"""The next times a cron is due, for the cron page."""

from __future__ import annotations

from aether.events.times import datetime_to_ms, format_ms, ms_to_datetime, parse_ms
from aether.model.json_value import JSON
from aether.model.schedule import ScheduleError, parse_schedule


def next_times(view: dict[str, JSON], count: int) -> list[str]:
    """Up to ``count`` times from the cron's next scheduled time on (none for a cron that
    will not tick: suspended, ended, or never due again)."""
    status, spec = view["status"], view["spec"]
    assert isinstance(status, dict) and isinstance(spec, dict)
    first = status.get("nextScheduleTime")
    if not isinstance(first, str):
        return []
    try:
        schedule = parse_schedule(str(spec.get("schedule")))
    except ScheduleError:
        return [first]
    zone = str(spec.get("timezone") or "UTC")
    times = [first]
    current = ms_to_datetime(parse_ms(first))
    while len(times) < count:
        found = schedule.next_after(zone, current)
        if found is None:
            break
        times.append(format_ms(datetime_to_ms(found)))
        current = found
    return times
