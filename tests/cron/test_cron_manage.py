"""Managing cron workflows through the service (SPEC §12.6): create, get, list, update,
suspend, resume, delete, trigger, backfill."""

from __future__ import annotations

import json

import pytest
from cron_helpers import ECHO_SUSPEND, Env, cron_doc, history, of_type
from support.documents import task, workflow

from aether.events import catalog as ev
from aether.model.problems import ValidationError
from aether.runtime.cron import CronError

pytestmark = pytest.mark.spec("2.10", "12.2", "12.6")


def test_create_get_list() -> None:
    env = Env()
    name = env.cron.create(json.dumps(cron_doc("nightly", "*/5 * * * *", namespace="ops")))
    assert name == "nightly"
    view = env.cron.get("nightly", "ops")
    assert view["spec"]["schedule"] == "*/5 * * * *"
    # Defaults of §2.10 are applied and stored.
    assert view["spec"]["timezone"] == "UTC" and view["spec"]["concurrencyPolicy"] == "Allow"
    assert view["spec"]["successfulJobsHistoryLimit"] == 3 and view["spec"]["failedJobsHistoryLimit"] == 1
    assert view["status"]["lastScheduleTime"] is None and view["status"]["lastRunId"] is None
    assert view["status"]["nextScheduleTime"] == "2026-03-01T10:05:00.000Z"
    assert view["runs"] == []
    assert env.cron.get("ops/nightly") == view
    (row,) = env.cron.list()
    assert (row["namespace"], row["name"], row["schedule"]) == ("ops", "nightly", "*/5 * * * *")
    with pytest.raises(CronError) as missing:
        env.cron.get("nightly")  # namespace default
    assert missing.value.code == "E-CRON-NOT-FOUND"


def test_create_twice_is_refused_and_writes_nothing() -> None:
    env = Env()
    env.cron.create(cron_doc())
    before = env.log.last_position()
    with pytest.raises(CronError) as exists:
        env.cron.create(cron_doc(schedule="@hourly"))
    assert exists.value.code == "E-CRON-EXISTS"
    assert env.log.last_position() == before


def test_invalid_documents_are_refused_with_every_problem_and_nothing_written() -> None:
    env = Env()
    bad = cron_doc(schedule="61 * * * *", timezone="Mars/Olympus", concurrencyPolicy="Sometimes")
    with pytest.raises(ValidationError) as invalid:
        env.cron.create(bad)
    codes = [p.code for p in invalid.value.errors]
    assert codes == ["E-CRON-FIELD", "E-CRON-TIMEZONE", "E-CRON-POLICY"]
    with pytest.raises(ValidationError):
        env.cron.create(workflow("w", task("main")))
    assert env.log.last_position() == 0


def test_local_timezone_is_resolved_at_submit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    env = Env()
    prepared = env.cron.prepare(cron_doc(timezone="Local"))
    assert prepared.document["spec"]["timezone"] == "Europe/Berlin"
    assert [p.code for p in prepared.warnings] == ["W-CRON-LOCAL-TZ"]
    env.cron.create(prepared)
    view = env.cron.get("nightly")
    assert view["spec"]["timezone"] == "Europe/Berlin"
    assert view["warnings"] == ['$.spec.timezone: W-CRON-LOCAL-TZ: timezone Local resolved to "Europe/Berlin"']


def test_update_changes_every_field_but_the_workflow_spec() -> None:
    env = Env()
    env.cron.create(cron_doc())
    view = env.cron.update("nightly", schedule="0 3 * * *", timezone="Asia/Tokyo", concurrency_policy="Forbid")
    assert (view["spec"]["schedule"], view["spec"]["timezone"], view["spec"]["concurrencyPolicy"]) == (
        "0 3 * * *",
        "Asia/Tokyo",
        "Forbid",
    )
    # 03:00 in Tokyo is 18:00 UTC the day before.
    assert view["status"]["nextScheduleTime"] == "2026-03-01T18:00:00.000Z"
    # A whole document: other fields may change; the same workflowSpec with its defaults
    # spelled out differently (timeout 1h given explicitly) is the same spec.
    document = cron_doc(schedule="@daily", successfulJobsHistoryLimit=0)
    document["spec"]["workflowSpec"]["timeout"] = "1h"
    view = env.cron.update("nightly", document=document)
    assert view["spec"]["schedule"] == "@daily" and view["spec"]["successfulJobsHistoryLimit"] == 0
    assert view["spec"]["concurrencyPolicy"] == "Allow"  # the document replaces the spec


def test_update_refusals_write_nothing() -> None:
    env = Env()
    env.cron.create(cron_doc())
    before = env.log.last_position()
    with pytest.raises(CronError) as immutable:
        env.cron.update("nightly", document=cron_doc(template=ECHO_SUSPEND))
    assert immutable.value.code == "E-CRON-SPEC-IMMUTABLE"
    assert immutable.value.message == "spec.workflowSpec is immutable"
    with pytest.raises(ValidationError) as bad:
        env.cron.update("nightly", schedule="* * *")
    assert [p.code for p in bad.value.errors] == ["E-CRON-SCHEDULE"]
    with pytest.raises(CronError) as mismatch:
        env.cron.update("nightly", document=cron_doc("other"))
    assert mismatch.value.code == "E-CRON-NAME-MISMATCH"
    with pytest.raises(CronError) as missing:
        env.cron.update("nope", suspend=True)
    assert missing.value.code == "E-CRON-NOT-FOUND"
    assert env.log.last_position() == before


def test_suspend_resume_and_delete() -> None:
    env = Env()
    env.cron.create(cron_doc())
    assert env.cron.suspend("nightly")["spec"]["suspend"] is True
    env.set(env.clock.now().replace(minute=6))
    env.cron.tick()
    env.set(env.clock.now().replace(minute=11))
    env.cron.tick()
    skipped = of_type(history(env.log, "nightly"), ev.CronTickSkipped)
    assert [(e.scheduled_time, e.reason) for e in skipped] == [
        ("2026-03-01T10:05:00.000Z", "suspended"),
        ("2026-03-01T10:10:00.000Z", "suspended"),
    ]
    # A manual trigger ignores suspend (§12.2).
    assert env.cron.trigger("nightly")["runId"] is not None
    env.cron.resume("nightly")
    env.set(env.clock.now().replace(minute=15))
    env.cron.tick()  # resumes from the next scheduled time
    assert [r["scheduledTime"] for r in env.cron.get("nightly")["runs"]] == [
        "2026-03-01T10:11:00.000Z",
        "2026-03-01T10:15:00.000Z",
    ]
    env.cron.delete("nightly")
    assert env.cron.list() == []
    with pytest.raises(CronError):
        env.cron.get("nightly")
    env.set(env.clock.now().replace(minute=30))
    assert env.cron.tick() == 0
    assert len(env.engine.run_ids()) == 2  # runs are kept
    # The name can be registered again; its processed ticks are still taken.
    env.cron.create(cron_doc())
    assert env.cron.get("nightly")["runs"] == []


def test_manual_trigger_at_a_processed_time_is_refused() -> None:
    env = Env()
    env.cron.create(cron_doc())
    first = env.cron.trigger("nightly")
    assert first["scheduledTime"] == "2026-03-01T10:00:00.000Z" and first["skipped"] is None
    with pytest.raises(CronError) as twice:
        env.cron.trigger("nightly")
    assert twice.value.code == "E-CRON-TICK-PROCESSED"
    assert len(env.engine.run_ids()) == 1


def test_backfill_starts_runs_as_with_allow_oldest_first() -> None:
    env = Env()
    env.cron.create(cron_doc(schedule="0 * * * *", concurrencyPolicy="Forbid", suspend=True))
    env.set(env.clock.now().replace(hour=16))
    out = env.cron.backfill("nightly", "2026-03-01T08:00:00Z", "2026-03-01T12:00:00+00:00")
    assert [o["scheduledTime"] for o in out] == [
        "2026-03-01T08:00:00.000Z",
        "2026-03-01T09:00:00.000Z",
        "2026-03-01T10:00:00.000Z",
        "2026-03-01T11:00:00.000Z",
    ]
    assert all(o["runId"] and o["skipped"] is None for o in out)
    assert env.cron_runs() == [(o["scheduledTime"], "backfill") for o in out]
    view = env.cron.get("nightly")
    assert view["status"]["lastScheduleTime"] == "2026-03-01T11:00:00.000Z"
    # Overlapping backfill: processed times are not run again.
    again = env.cron.backfill("nightly", "2026-03-01T10:00:00Z", "2026-03-01T14:00:00Z")
    assert [o["scheduledTime"] for o in again] == ["2026-03-01T12:00:00.000Z", "2026-03-01T13:00:00.000Z"]
    assert len(env.engine.run_ids()) == 6


def test_backfill_too_large_or_malformed_is_refused_and_writes_nothing() -> None:
    env = Env()
    env.cron.create(cron_doc(schedule="* * * * *"))
    before = env.log.last_position()
    with pytest.raises(CronError) as large:
        env.cron.backfill("nightly", "2026-02-28T00:00:00Z", "2026-03-01T00:00:00Z")
    assert large.value.code == "E-BACKFILL-TOO-LARGE"
    with pytest.raises(CronError) as bad:
        env.cron.backfill("nightly", "yesterday", "2026-03-01T00:00:00Z")
    assert bad.value.code == "E-BACKFILL-RANGE"
    assert env.log.last_position() == before
    assert env.engine.run_ids() == []
