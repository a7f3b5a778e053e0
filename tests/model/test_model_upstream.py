"""The 39 upstream examples: every one loads; all but 27 validate without errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_helpers import CHECKS, load_document, load_file

from aether.model import dump_document
from aether.model.types import CronWorkflow, Workflow

pytestmark = pytest.mark.spec("1.1", "3.1")

EXAMPLES = Path(__file__).resolve().parents[1] / "conformance" / "upstream" / "examples"
FILES = sorted(EXAMPLES.glob("*.json"))
INVALID = "27-hooks-invalid-template.json"


def test_all_examples_present() -> None:
    assert len(FILES) == 39


@pytest.mark.parametrize("path", [f for f in FILES if f.name != INVALID], ids=lambda p: p.name)
def test_example_is_valid(path: Path) -> None:
    result = load_file(path, executor_checks=CHECKS)
    errors = [(p.code, p.path, p.message) for p in result.problems if p.is_error]
    assert result.ok, errors
    assert not errors
    kind = json.loads(path.read_text())["kind"]
    assert isinstance(result.document, CronWorkflow if kind == "CronWorkflow" else Workflow)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_example_round_trips(path: Path) -> None:
    result = load_file(path)
    if not result.ok:
        return
    again = load_document(json.dumps(dump_document(result.document)))
    assert again.document == result.document


def test_example_27_rejected_with_upstream_message() -> None:
    result = load_file(EXAMPLES / INVALID, executor_checks=CHECKS)
    assert not result.ok
    assert result.document is None
    errors = [p for p in result.problems if p.is_error]
    assert [p.code for p in errors] == ["E-HOOK-NOT-TASK"]
    assert "must be a task template" in errors[0].message
    assert errors[0].path == "$.spec.hooks.onSuccess.template"
    assert errors[0].message == 'spec.hooks: onSuccess template "main" must be a task template (not dag or loop)'
    assert (errors[0].line, errors[0].column) == (13, 28)
