"""Defaults (SPEC §2.10) and submit-time arguments (§6.1, E-SUBMIT-ARG-UNKNOWN)."""

from __future__ import annotations

from typing import Any

import pytest
from model_helpers import add_template, load, load_changed

from aether.model import apply_defaults, apply_submit_arguments, template_index
from aether.model.types import Metadata, Workflow, WorkflowSpec

pytestmark = pytest.mark.spec("2.10", "6.1")


def test_workflow_defaults() -> None:
    doc = load_changed(lambda d: add_template(d, {"loop": {"name": "l", "body": "work", "items": [1]}})).document
    assert doc.metadata.namespace == "default"
    assert doc.spec.timeout == "1h"
    assert doc.spec.priority == 500
    assert doc.spec.max_nested_depth == 3
    loop = doc.spec.templates[2].loop
    assert loop.aggregate.strategy == "last"
    # No other defaults exist.
    assert loop.concurrency is None and loop.max_iterations is None
    assert doc.spec.templates[0].dag.tasks[0].retry is None


def test_zero_and_empty_count_as_absent() -> None:
    doc = load_changed(lambda d: d["spec"].update(timeout="", priority=0, maxNestedDepth=0)).document
    assert (doc.spec.timeout, doc.spec.priority, doc.spec.max_nested_depth) == ("1h", 500, 3)
    empty = load_changed(
        lambda d: add_template(d, {"loop": {"name": "l", "body": "work", "items": [1], "aggregate": {"strategy": ""}}})
    ).document
    assert empty.spec.templates[2].loop.aggregate.strategy == "last"


def test_explicit_values_are_kept() -> None:
    def change(d: dict) -> None:
        d["metadata"]["namespace"] = "team"
        d["spec"].update(timeout="5m", priority=10, maxNestedDepth=5)
        add_template(d, {"loop": {"name": "l", "body": "work", "items": [1], "aggregate": {"strategy": "list"}}})

    doc = load_changed(change).document
    assert doc.metadata.namespace == "team"
    assert (doc.spec.timeout, doc.spec.priority, doc.spec.max_nested_depth) == ("5m", 10, 5)
    assert doc.spec.templates[2].loop.aggregate.strategy == "list"


def test_apply_defaults_is_idempotent_and_pure() -> None:
    bare = Workflow(api_version="aether/v1", kind="Workflow", metadata=Metadata(name="x"), spec=WorkflowSpec())
    once = apply_defaults(bare)
    assert apply_defaults(once) == once
    assert bare.spec is not None and once.spec is not None
    assert bare.spec.timeout is None
    assert once.spec.timeout == "1h"


def test_template_index_first_wins() -> None:
    doc = load_changed(
        lambda d: add_template(d, {"dag": {"name": "work", "tasks": [{"name": "z", "template": "work"}]}})
    ).document
    index = template_index(doc.spec)
    assert list(index) == ["main", "work"]
    assert index["work"].kind == "task"
    assert template_index(None) == {}


def test_submit_arguments_replace_values() -> None:
    def change(d: dict) -> None:
        d["spec"]["arguments"] = {"parameters": [{"name": "env", "value": "dev"}, {"name": "n", "default": 1}]}

    workflow = load_changed(change).document
    updated: Any
    updated, problems = apply_submit_arguments(workflow, {"env": "prod", "n": [1, 2]})
    assert problems == []
    params = updated.spec.arguments.parameters
    assert [(p.name, p.value, p.default) for p in params] == [("env", "prod", None), ("n", [1, 2], 1)]
    assert workflow.spec.arguments.parameters[0].value == "dev"


def test_submit_argument_unknown() -> None:
    workflow = load(_doc_with_args()).document
    updated: Any
    updated, problems = apply_submit_arguments(workflow, {"nope": 1, "env": "x"})
    assert [(p.code, p.path, p.message) for p in problems] == [
        ("E-SUBMIT-ARG-UNKNOWN", "$.spec.arguments.parameters", 'argument "nope" is not a workflow parameter')
    ]
    assert updated.spec.arguments.parameters[0].value == "x"
    no_args = load_changed(lambda d: None).document
    same, problems = apply_submit_arguments(no_args, {"x": 1})
    assert same == no_args
    assert [p.code for p in problems] == ["E-SUBMIT-ARG-UNKNOWN"]


def _doc_with_args() -> dict:
    from model_helpers import base

    doc = base()
    doc["spec"]["arguments"] = {"parameters": [{"name": "env", "value": "dev"}]}
    return doc
