"""Template references (SPEC §13, §3.3.11): workflowTemplateRef merges, templateRef
targets, nesting through references and the templates snapshot (§13.4)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from model_helpers import assert_problem, base, codes, cron_base, load, load_document, the

from aether.model import dump_document, snapshot_templates, structure
from aether.model.types import Template, Workflow, WorkflowTemplate

pytestmark = pytest.mark.spec("2.8", "3.3.11", "13.1", "13.2", "13.3", "13.4")


def wt(name: str, spec: dict[str, Any], namespace: str = "default") -> WorkflowTemplate:
    result = load_document(
        json.dumps(
            {
                "apiVersion": "aether/v1",
                "kind": "WorkflowTemplate",
                "metadata": {"name": name, "namespace": namespace},
                "spec": spec,
            }
        ),
        expected_kind="WorkflowTemplate",
    )
    assert result.ok, codes(result)
    doc = result.document
    assert isinstance(doc, WorkflowTemplate)
    return doc


LIB = {
    "entrypoint": "pipeline",
    "timeout": "2h",
    "priority": 900,
    "arguments": {"parameters": [{"name": "env", "value": "dev"}, {"name": "region", "value": "eu"}]},
    "hooks": {"onExit": {"template": "notify"}, "onStart": {"template": "notify"}},
    "templates": [
        {"dag": {"name": "pipeline", "tasks": [{"name": "s", "template": "step"}]}},
        {"task": {"name": "step", "executor": {"type": "echo"}}},
        {"task": {"name": "notify", "executor": {"type": "echo"}}},
        {"loop": {"name": "each", "body": "step", "items": [1, 2]}},
    ],
}


class Store:
    def __init__(self, *templates: WorkflowTemplate) -> None:
        self.items: dict[tuple[str | None, str | None], WorkflowTemplate] = {}
        for template in templates:
            assert template.metadata is not None
            self.items[(template.metadata.namespace, template.metadata.name)] = template
        self.calls: list[tuple[str, str]] = []

    def __call__(self, namespace: str, name: str) -> WorkflowTemplate | None:
        self.calls.append((namespace, name))
        return self.items.get((namespace, name))


def referencing(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "aether/v1", "kind": "Workflow", "metadata": {"name": "run"}, "spec": spec}


def test_workflow_template_is_valid_without_entrypoint() -> None:
    spec = dict(LIB)
    del spec["entrypoint"]
    loaded = wt("lib", spec).spec
    assert loaded is not None and loaded.entrypoint is None


def test_workflow_template_ref_is_not_allowed_in_a_template() -> None:
    doc = {
        "apiVersion": "aether/v1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "x"},
        "spec": {"workflowTemplateRef": {"name": "lib"}, "templates": LIB["templates"]},
    }
    result = load(doc)
    assert codes(result) == [("E-TEMPLATE-REF-NESTED", "$.spec.workflowTemplateRef")]
    assert the(result, "E-TEMPLATE-REF-NESTED").message == "workflowTemplateRef is not allowed in a WorkflowTemplate"


def test_merge_from_workflow_template() -> None:
    store = Store(wt("lib", LIB))
    doc = referencing(
        workflowTemplateRef={"name": "lib"},
        priority=0,
        arguments={"parameters": [{"name": "extra", "value": 1}, {"name": "env", "value": "prod"}]},
        hooks={"onStart": {"template": "mine"}},
        templates=[
            {"task": {"name": "mine", "executor": {"type": "shell"}}},
            {"task": {"name": "step", "executor": {"type": "http"}}},
        ],
    )
    result = load(doc, template_lookup=store)
    assert result.ok, codes(result)
    spec = result.document.spec
    assert spec.workflow_template_ref is None
    assert spec.entrypoint == "pipeline"
    assert spec.timeout == "2h"
    assert spec.priority == 900  # 0 counts as absent
    assert [t.name for t in spec.templates] == ["mine", "step", "pipeline", "notify", "each"]
    assert spec.templates[1].task.executor.type == "http"  # the Workflow's own template wins
    assert [(p.name, p.value) for p in spec.arguments.parameters] == [("env", "prod"), ("region", "eu"), ("extra", 1)]
    assert spec.hooks.on_start.template == "mine"
    assert spec.hooks.on_exit.template == "notify"
    assert store.calls == [("default", "lib")]
    assert set(result.templates_snapshot) == {"lib"}
    assert [
        t["task" if "task" in t else "dag" if "dag" in t else "loop"]["name"] for t in result.templates_snapshot["lib"]
    ] == ["pipeline", "step", "notify", "each"]


def test_workflow_template_ref_namespace() -> None:
    store = Store(wt("lib", LIB, namespace="shared"))
    doc = referencing(workflowTemplateRef={"name": "lib", "namespace": "shared"})
    result = load(doc, template_lookup=store)
    assert result.ok
    # Another namespace than the run's: keyed with its namespace.
    assert set(result.templates_snapshot) == {"shared/lib"}
    doc = referencing(workflowTemplateRef={"name": "lib"})
    doc["metadata"]["namespace"] = "team"
    result = load(doc, template_lookup=store)
    assert_problem(
        result, "E-TEMPLATE-REF-NOT-FOUND", "$.spec.workflowTemplateRef", 'workflowTemplateRef "team/lib" not found'
    )
    assert result.templates_snapshot == {}


def test_unresolved_reference_without_lookup_is_not_judged() -> None:
    doc = referencing(
        workflowTemplateRef={"name": "lib"},
        templates=[{"dag": {"name": "mine", "tasks": [{"name": "x", "template": "step"}]}}],
    )
    result = load(doc)
    assert result.ok, codes(result)
    # Without the merge the spec keeps its gaps: defaults must not pre-empt the template.
    assert result.document.spec.timeout is None


def test_task_template_ref_found() -> None:
    store = Store(wt("lib", LIB))
    doc = base()
    doc["spec"]["templates"][0]["dag"]["tasks"][0] = {
        "name": "a",
        "templateRef": {"name": "lib", "template": "step"},
        "hooks": {"onSuspend": {"template": "work"}},
    }
    result = load(doc, template_lookup=store)
    assert result.ok, codes(result)
    assert result.problems == ()
    assert set(result.templates_snapshot) == {"lib"}


def test_task_template_ref_not_found_and_template_missing() -> None:
    store = Store(wt("lib", LIB))
    doc = base()
    tasks = doc["spec"]["templates"][0]["dag"]["tasks"]
    tasks[0] = {"name": "a", "templateRef": {"name": "nolib", "template": "step"}}
    tasks[1] = {"name": "b", "templateRef": {"name": "lib", "template": "nope"}}
    result = load(doc, template_lookup=store)
    t = "$.spec.templates[0].dag.tasks"
    assert codes(result) == [
        ("E-TEMPLATE-REF-NOT-FOUND", f"{t}[0].templateRef"),
        ("E-TEMPLATE-REF-TEMPLATE", f"{t}[1].templateRef.template"),
    ]
    assert result.problems[0].message == 'templateRef "nolib" not found'
    assert result.problems[1].message == 'templateRef "lib/nope": template not found'


def test_template_ref_target_kind_drives_call_site_rules() -> None:
    store = Store(wt("lib", LIB))
    doc = base()
    doc["spec"]["templates"][0]["dag"]["tasks"][0] = {
        "name": "a",
        "templateRef": {"name": "lib", "template": "each"},
        "phaseConditions": {"failed": "true"},
        "hooks": {"onSuccess": {"template": "work"}},
    }
    result = load(doc, template_lookup=store)
    assert the(result, "E-PHASECOND-CALLSITE").message == (
        'template "main": task "a": phaseConditions is not allowed when template "lib/each" resolves to a loop; '
        'declare phaseConditions on the loop template "lib/each" instead'
    )
    assert_problem(result, "W-HOOK-NEVER-FIRES", "$.spec.templates[0].dag.tasks[0].hooks.onSuccess")


def test_nesting_counts_through_references() -> None:
    deep = wt(
        "deep",
        {
            "templates": [
                {"dag": {"name": "d1", "tasks": [{"name": "x", "template": "d2"}]}},
                {"dag": {"name": "d2", "tasks": [{"name": "x", "templateRef": {"name": "leafy", "template": "leaf"}}]}},
            ]
        },
    )
    leafy = wt("leafy", {"templates": [{"task": {"name": "leaf", "executor": {"type": "echo"}}}]})
    doc = base()
    doc["spec"]["templates"][0]["dag"]["tasks"] = [{"name": "a", "templateRef": {"name": "deep", "template": "d1"}}]
    store = Store(deep, leafy)
    # main(0) -> deep/d1(1) -> deep/d2(2) -> leafy/leaf(3): allowed with the default 3.
    result = load(doc, template_lookup=store)
    assert result.ok, codes(result)
    assert set(result.templates_snapshot) == {"deep", "leafy"}
    doc["spec"]["maxNestedDepth"] = 2
    assert codes(load(doc, template_lookup=store)) == [("E-NESTING-DEPTH", "$.spec.entrypoint")]


def test_snapshot_templates_resolve_back() -> None:
    store = Store(wt("lib", LIB))
    result = load(referencing(workflowTemplateRef={"name": "lib"}), template_lookup=store)
    index = snapshot_templates(result.templates_snapshot, "lib")
    assert index is not None
    assert index["step"] == structure(result.templates_snapshot["lib"][1], Template)
    assert snapshot_templates(result.templates_snapshot, "other") is None


def test_cron_resolves_for_validation_but_keeps_its_reference() -> None:
    store = Store(wt("lib", LIB))
    doc = cron_base()
    doc["spec"]["workflowSpec"] = {"workflowTemplateRef": {"name": "lib"}}
    result = load(doc, template_lookup=store)
    assert result.ok, codes(result)
    assert result.document.spec.workflow_spec.workflow_template_ref is not None
    assert result.document.spec.workflow_spec.timeout is None
    missing = load(doc, template_lookup=Store())
    assert_problem(
        missing,
        "E-TEMPLATE-REF-NOT-FOUND",
        "$.spec.workflowSpec.workflowTemplateRef",
        'spec.workflowSpec: workflowTemplateRef "default/lib" not found',
    )


def test_resolved_document_round_trips() -> None:
    store = Store(wt("lib", LIB))
    result = load(referencing(workflowTemplateRef={"name": "lib"}), template_lookup=store)
    again = load_document(json.dumps(dump_document(result.document)))
    assert again.ok and again.document == result.document
    assert isinstance(again.document, Workflow)
