"""Upstream cron examples 28 to 30 against their assertion files (SPEC §16.5), with both logs.

The automatic ticker is off: the CronWorkflow is submitted at T0 and only manual triggers
create runs, at T0, T0 + 300 ms, …, each followed by driving to quiescence (§16.2 a);
then the clock moves 500 ms, the runs are driven once more, and the cron is verified.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from aether.runtime.cron import CronService
from aether.store.base import EventLog
from tests.conformance.harness import Harness, load_example, verify_run

pytestmark = pytest.mark.spec("12.2", "16.5")

JSON = Any
CRON_EXAMPLES = ["28-cron-basic", "29-cron-concurrency-forbid", "30-cron-concurrency-replace"]
TRIGGER_SPACING = timedelta(milliseconds=300)
SETTLE = timedelta(milliseconds=500)


def run_cron_example(harness: Harness, text: str, assertion: dict[str, JSON]) -> dict[str, JSON]:
    service = CronService(harness.engine)  # no ticker: catch_up/tick are never called
    name = service.create(text)
    count = assertion.get("cronTriggerCount") or 1
    count = count if count > 0 else 1
    latest: str | None = None
    for i in range(count):
        if i:
            harness.clock.advance(TRIGGER_SPACING)
        outcome = service.trigger(name)
        latest = outcome["runId"] or latest
        if latest is not None:
            harness.drive(latest)
    harness.clock.advance(SETTLE)
    if latest is not None:
        harness.drive(latest)
    return service.get(name)


def verify_cron(harness: Harness, view: dict[str, JSON], assertion: dict[str, JSON]) -> list[str]:
    """§16.5: the cron's runs still in its history, the newest run's phase and tasks."""
    failures: list[str] = []
    runs = view["runs"]
    if "expectRunCount" in assertion and len(runs) != assertion["expectRunCount"]:
        failures.append(f"run count: got {len(runs)}, want {assertion['expectRunCount']}")
    cancelled = sum(1 for run in runs if run["phase"] == "Cancelled")
    if "expectCancelledCount" in assertion and cancelled != assertion["expectCancelledCount"]:
        failures.append(f"cancelled count: got {cancelled}, want {assertion['expectCancelledCount']}")
    if not runs:
        if assertion.get("expectRunPhase") or assertion.get("expectTasks"):
            failures.append("no run to verify")
        return failures
    newest = harness.engine.get(runs[-1]["runId"])
    if assertion.get("expectRunPhase") and newest["phase"] != assertion["expectRunPhase"]:
        failures.append(f'run phase: got "{newest["phase"]}", want "{assertion["expectRunPhase"]}"')
    if assertion.get("expectTasks"):
        failures.extend(verify_run(newest, {"expectTasks": assertion["expectTasks"]}))
    return failures


@pytest.mark.parametrize("name", CRON_EXAMPLES)
def test_upstream_cron_example(name: str, event_log: EventLog) -> None:
    text, assertion = load_example(name)
    harness = Harness(event_log)
    view = run_cron_example(harness, text, assertion)
    assert verify_cron(harness, view, assertion) == []


def test_the_verifier_can_fail(event_log: EventLog) -> None:
    """The checks above are not vacuous: a wrong expectation is reported."""
    text, assertion = load_example("30-cron-concurrency-replace")
    harness = Harness(event_log)
    view = run_cron_example(harness, text, assertion)
    wrong = {
        "expectRunCount": 1,
        "expectCancelledCount": 0,
        "expectRunPhase": "Succeeded",
        "expectTasks": [{"taskName": "main", "expectPhase": "Succeeded"}],
    }
    assert verify_cron(harness, view, wrong) == [
        "run count: got 2, want 1",
        "cancelled count: got 1, want 0",
        'run phase: got "Running", want "Succeeded"',
        'task "main" phase: got "Suspended", want "Succeeded"',
    ]


def test_forbid_records_the_skipped_trigger(event_log: EventLog) -> None:
    text, _assertion = load_example("29-cron-concurrency-forbid")
    harness = Harness(event_log)
    service = CronService(harness.engine)
    name = service.create(text)
    first = service.trigger(name)
    harness.drive(first["runId"])
    harness.clock.advance(TRIGGER_SPACING)
    second = service.trigger(name)
    assert second == {"scheduledTime": "2026-03-01T10:00:00.300Z", "runId": None, "skipped": "forbidden"}
