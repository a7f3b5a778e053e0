"""Envelope, kinds and names (SPEC §2.3, §3.3.1, §3.3.2)."""

from __future__ import annotations

import pytest
from model_helpers import assert_problem, base, codes, cron_base, load, load_changed, tasks, the, with_changes

from aether.model.types import Workflow

pytestmark = pytest.mark.spec("2.3", "3.3.1", "3.3.2")


def test_api_version() -> None:
    result = load_changed(lambda d: d.update(apiVersion="aether/v2"))
    assert codes(result) == [("E-API-VERSION", "$.apiVersion")]
    assert the(result, "E-API-VERSION").message == "unsupported apiVersion: aether/v2"
    assert codes(load_changed(lambda d: d.pop("apiVersion"))) == [("E-API-VERSION", "$.apiVersion")]


def test_unknown_kind() -> None:
    result = load_changed(lambda d: d.update(kind="Pipeline"))
    assert codes(result) == [("E-KIND", "$.kind")]
    assert the(result, "E-KIND").message == "unsupported kind: Pipeline"
    assert the(load_changed(lambda d: d.pop("kind")), "E-KIND").message == "unsupported kind: "


def test_expected_kind_for_cron_operations() -> None:
    result = load(base(), expected_kind="CronWorkflow")
    assert the(result, "E-KIND").message == "unsupported kind: Workflow (expected CronWorkflow)"
    assert load(cron_base(), expected_kind="CronWorkflow").ok
    assert the(load(cron_base(), expected_kind="Workflow"), "E-KIND").message == "unsupported kind: CronWorkflow"


def test_cron_without_schedule_is_submitted_as_workflow() -> None:
    doc = base()
    doc["kind"] = "CronWorkflow"
    result = load(doc)
    assert codes(result) == [("W-KIND-CRON-AS-WORKFLOW", "$.kind")]
    assert the(result, "W-KIND-CRON-AS-WORKFLOW").message == "CronWorkflow without schedule submitted as a Workflow"
    assert isinstance(result.document, Workflow)
    assert result.document.kind == "Workflow"
    assert load(doc, expected_kind="Workflow").ok


def test_spec_required() -> None:
    result = load_changed(lambda d: d.pop("spec"))
    assert codes(result) == [("E-SPEC-REQUIRED", "$.spec")]
    assert the(result, "E-SPEC-REQUIRED").message == "spec is required"


def test_metadata_name_required() -> None:
    result = load_changed(lambda d: d.pop("metadata"))
    assert codes(result) == [("E-NAME-REQUIRED", "$.metadata.name")]
    assert the(result, "E-NAME-REQUIRED").message == "metadata.name is required"
    assert codes(load_changed(lambda d: d["metadata"].update(name=""))) == [("E-NAME-REQUIRED", "$.metadata.name")]


def test_metadata_name_too_long_checked_first() -> None:
    name = "A" * 64
    result = load_changed(lambda d: d["metadata"].update(name=name))
    assert codes(result) == [("E-NAME-TOO-LONG", "$.metadata.name")]
    assert the(result, "E-NAME-TOO-LONG").message == f'metadata.name "{name}" is too long: max 63 characters'
    assert load_changed(lambda d: d["metadata"].update(name="a" * 63)).ok


@pytest.mark.parametrize("name", ["Demo", "-demo", "demo-", "de_mo", "de.mo", "démo"])
def test_metadata_name_dns1123(name: str) -> None:
    result = load_changed(lambda d: d["metadata"].update(name=name))
    assert codes(result) == [("E-NAME-DNS1123", "$.metadata.name")]
    assert the(result, "E-NAME-DNS1123").message == (
        f'metadata.name "{name}" is invalid: must match DNS-1123 (^[a-z0-9]([-a-z0-9]*[a-z0-9])?$)'
    )


def test_template_name_rules() -> None:
    result = load_changed(lambda d: d["spec"]["templates"][1]["task"].pop("name"))
    assert_problem(result, "E-NAME-REQUIRED", "$.spec.templates[1].task.name", "template[1].name is required")
    result = load_changed(lambda d: d["spec"]["templates"][1]["task"].update(name="Work"))
    assert_problem(
        result,
        "E-NAME-DNS1123",
        "$.spec.templates[1].task.name",
        'template name "Work" is invalid: must match DNS-1123 (^[a-z0-9]([-a-z0-9]*[a-z0-9])?$)',
    )


def test_task_name_rules() -> None:
    result = load_changed(lambda d: tasks(d)[0].pop("name"))
    assert_problem(result, "E-NAME-REQUIRED", "$.spec.templates[0].dag.tasks[0].name", "task.name is required")
    result = load_changed(lambda d: tasks(d)[0].update(name="x" * 64))
    assert_problem(
        result,
        "E-NAME-TOO-LONG",
        "$.spec.templates[0].dag.tasks[0].name",
        f'task name "{"x" * 64}" is too long: max 63 characters',
    )


def test_template_input_parameter_names() -> None:
    def change(d: dict) -> None:
        d["spec"]["templates"][1]["task"]["inputs"] = {"parameters": [{"name": "Bad_Name"}, {"value": 1}]}

    result = load_changed(change)
    assert_problem(
        result,
        "E-NAME-DNS1123",
        "$.spec.templates[1].task.inputs.parameters[0].name",
        'template "work" inputs: parameter name "Bad_Name" is invalid: '
        "must match DNS-1123 (^[a-z0-9]([-a-z0-9]*[a-z0-9])?$)",
    )
    assert_problem(
        result,
        "E-NAME-REQUIRED",
        "$.spec.templates[1].task.inputs.parameters[1].name",
        'template "work" inputs: parameter name is required',
    )


def test_dns1123_does_not_apply_to_arguments_outputs_or_workflow_arguments() -> None:
    def change(d: dict) -> None:
        d["spec"]["arguments"] = {"parameters": [{"name": "Some_Arg", "value": 1}]}
        tasks(d)[0]["arguments"] = {"parameters": [{"name": "Call_Arg", "value": 1}]}
        d["spec"]["templates"][1]["task"]["outputs"] = {"parameters": [{"name": "Out_Put"}]}
        d["metadata"]["labels"] = {"Label_Key": "x"}

    assert load_changed(change).problems == ()


def test_metadata_version_semver() -> None:
    result = load_changed(lambda d: d["metadata"].update(version="1.2"))
    assert codes(result) == [("W-SCHEMA-RANGE", "$.metadata.version")]
    assert the(result, "W-SCHEMA-RANGE").message.startswith('metadata.version "1.2" is outside the schema range: ')
    assert load_changed(lambda d: d["metadata"].update(version="1.2.3-rc.1")).problems == ()
    assert with_changes(lambda d: None) == base()
