"""CronWorkflow (SPEC §2.7, §3.3.10): the envelope, the cron fields (through
``validate_cron_fields``) and ``spec.workflowSpec`` validated as a Workflow."""

from __future__ import annotations

from typing import Any

import pytest
from model_helpers import assert_problem, codes, cron_base, load, the

from aether.model.types import CronWorkflow

pytestmark = pytest.mark.spec("2.7", "3.3.10")


def test_valid_cron_with_defaults() -> None:
    result = load(cron_base())
    assert result.ok, codes(result)
    assert isinstance(result.document, CronWorkflow)
    doc: Any = result.document
    assert doc.metadata.namespace == "default"
    assert doc.spec.timezone == "UTC"
    assert doc.spec.concurrency_policy == "Allow"
    assert doc.spec.successful_jobs_history_limit == 3
    assert doc.spec.failed_jobs_history_limit == 1
    assert doc.spec.workflow_spec.timeout == "1h"
    assert doc.spec.workflow_spec.priority == 500


def test_explicit_zero_history_limits_are_kept() -> None:
    doc = cron_base()
    doc["spec"].update(successfulJobsHistoryLimit=0, failedJobsHistoryLimit=0)
    spec = load(doc).document.spec
    assert (spec.successful_jobs_history_limit, spec.failed_jobs_history_limit) == (0, 0)


def test_workflow_spec_problems_are_prefixed_and_under_workflow_spec() -> None:
    doc = cron_base()
    doc["spec"]["workflowSpec"]["templates"][0]["dag"]["tasks"][0]["template"] = "nope"
    result = load(doc)
    assert codes(result) == [("E-TEMPLATE-UNKNOWN", "$.spec.workflowSpec.templates[0].dag.tasks[0].template")]
    assert the(result, "E-TEMPLATE-UNKNOWN").message == (
        'spec.workflowSpec: template "main": task "a" references unknown template "nope"'
    )


def test_workflow_spec_required() -> None:
    doc = cron_base()
    del doc["spec"]["workflowSpec"]
    result = load(doc)
    assert codes(result) == [("E-SPEC-REQUIRED", "$.spec.workflowSpec")]
    assert the(result, "E-SPEC-REQUIRED").message == "spec.workflowSpec is required"


def test_workflow_spec_entrypoint_required() -> None:
    doc = cron_base()
    del doc["spec"]["workflowSpec"]["entrypoint"]
    result = load(doc)
    assert_problem(
        result,
        "E-ENTRYPOINT-REQUIRED",
        "$.spec.workflowSpec.entrypoint",
        "spec.workflowSpec: spec.entrypoint is required",
    )


def test_cron_fields_are_checked() -> None:
    doc = cron_base()
    doc["spec"].update(schedule="61 * * * *", timezone="Mars/Olympus", concurrencyPolicy="forbid")
    result = load(doc)
    assert [c[0] for c in codes(result)] == ["E-CRON-FIELD", "E-CRON-TIMEZONE", "E-CRON-POLICY"]
    assert the(result, "E-CRON-POLICY").message == 'spec.concurrencyPolicy "forbid": must be Allow, Forbid, or Replace'
    assert the(result, "E-CRON-TIMEZONE").path == "$.spec.timezone"


def test_cron_schedule_required_when_spec_is_cron_shaped() -> None:
    doc = cron_base()
    del doc["spec"]["schedule"]
    result = load(doc)
    assert codes(result) == [("E-CRON-SCHEDULE-REQUIRED", "$.spec.schedule")]
    assert the(result, "E-CRON-SCHEDULE-REQUIRED").message == "spec.schedule is required"


def test_problems_in_order_of_paths() -> None:
    doc = cron_base()
    doc["spec"]["workflowSpec"]["entrypoint"] = "nope"
    doc["spec"]["concurrencyPolicy"] = "Sometimes"
    doc["metadata"]["name"] = "Bad"
    result = load(doc)
    # Document order: metadata, then spec keys as written (schedule, workflowSpec, then
    # the added concurrencyPolicy).
    assert [c[0] for c in codes(result)] == ["E-NAME-DNS1123", "E-ENTRYPOINT-UNKNOWN", "E-CRON-POLICY"]


def test_cron_unknown_key_suggestion() -> None:
    doc = cron_base()
    doc["spec"]["concurencyPolicy"] = "Allow"
    result = load(doc)
    assert the(result, "W-UNKNOWN-KEY").message == 'unknown key "concurencyPolicy" (did you mean "concurrencyPolicy"?)'


def test_cron_workflow_spec_types() -> None:
    doc = cron_base()
    doc["spec"]["suspend"] = "yes"
    doc["spec"]["startingDeadlineSeconds"] = 1.5
    result = load(doc)
    assert codes(result) == [("E-TYPE", "$.spec.suspend"), ("E-TYPE", "$.spec.startingDeadlineSeconds")]
