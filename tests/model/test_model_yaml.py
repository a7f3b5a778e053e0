"""YAML 1.2 core schema (SPEC §2.1)."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest
from model_helpers import CHECKS, base, codes, load_document, load_file, the

from aether.model import Limits

pytestmark = pytest.mark.spec("2.1")

DOC = """\
apiVersion: aether/v1
kind: Workflow
metadata:
  name: demo
  labels: {{flag: {flag}}}
spec:
  entrypoint: main
{extra}  templates:
    - dag:
        name: main
        tasks:
          - name: a
            template: work
    - task:
        name: work
        executor: {{type: echo}}
"""


def yaml(flag: str = "x", extra: str = "") -> str:
    return DOC.format(flag=flag, extra=textwrap.indent(textwrap.dedent(extra), "  ") if extra else "")


def load(text: str, **kwargs: Any) -> Any:
    kwargs.setdefault("executor_checks", CHECKS)
    return load_document(text, fmt="yaml", **kwargs)


def test_yaml_and_json_describe_the_same_document() -> None:
    assert load(yaml()).document == load_document(json.dumps(_base_with_label())).document


def _base_with_label() -> dict:
    doc = base()
    doc["metadata"]["labels"] = {"flag": "x"}
    doc["spec"]["templates"][0]["dag"]["tasks"] = [{"name": "a", "template": "work"}]
    return doc


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "Yes", "OFF", "y", "n", "2024-01-01", "12:30:00"])
def test_yaml_11_booleans_and_dates_are_strings(word: str) -> None:
    result = load(yaml(flag=word))
    assert result.ok, codes(result)
    assert result.document.metadata.labels == {"flag": word}


@pytest.mark.parametrize("word", ["true", "True", "TRUE", "false", "False", "FALSE"])
def test_core_booleans(word: str) -> None:
    result = load(yaml(flag=word))
    assert codes(result) == [("E-TYPE", "$.metadata.labels.flag")]
    assert the(result, "E-TYPE").message == "flag must be string, got boolean"
    ok = load(yaml().replace("tasks:\n", f"continueOn: {{failed: {word}}}\n        tasks:\n"))
    assert ok.ok, codes(ok)
    assert ok.document.spec.templates[0].dag.continue_on.failed is (word.lower() == "true")


@pytest.mark.parametrize("word", ["null", "Null", "NULL", "~", ""])
def test_core_nulls_are_absent(word: str) -> None:
    result = load(yaml(extra=f"timeout: {word}\n"))
    assert result.ok, codes(result)
    assert result.document.spec.timeout == "1h"


@pytest.mark.parametrize(("literal", "value"), [("7", 7), ("-3", -3), ("0o17", 15), ("0x1F", 31), ("+12", 12)])
def test_core_integers(literal: str, value: int) -> None:
    result = load(yaml(extra=f"maxNestedDepth: {literal}\n"))
    assert result.ok, codes(result)
    assert result.document.spec.max_nested_depth == value


@pytest.mark.parametrize(
    ("literal", "got"),
    [
        ("2.0", "number"),
        ("1e2", "number"),
        ("1_000", "string"),
        ("0b101", "string"),
        ('"3"', "string"),
        ("'3'", "string"),
    ],
)
def test_integer_fields_reject_non_integers(literal: str, got: str) -> None:
    result = load(yaml(extra=f"priority: {literal}\n"))
    assert codes(result) == [("E-TYPE", "$.spec.priority")]
    assert the(result, "E-TYPE").message == f"priority must be integer, got {got}"


@pytest.mark.parametrize("literal", [".inf", "-.inf", "+.INF", ".nan", ".NaN"])
def test_non_finite_floats_are_rejected(literal: str) -> None:
    text = yaml().replace("executor: {type: echo}", f"executor: {{type: echo, config: {{x: {literal}}}}}")
    result = load(text)
    assert codes(result) == [("E-TYPE", "$.spec.templates[1].task.executor.config.x")]
    assert the(result, "E-TYPE").message == f"x must be a finite number, got {literal}"


def test_explicit_string_tag_keeps_text() -> None:
    result = load(yaml(flag="!!str true"))
    assert result.ok
    assert result.document.metadata.labels == {"flag": "true"}


def test_anchors_and_aliases_are_expanded() -> None:
    text = yaml().replace("executor: {type: echo}", "executor: &ex {type: echo, config: {a: [1, 2]}}")
    text += "    - task:\n        name: other\n        executor: *ex\n"
    result = load(text)
    assert result.ok, codes(result)
    templates = result.document.spec.templates
    assert templates[2].task.executor == templates[1].task.executor
    assert templates[2].task.executor.config == {"a": [1, 2]}


def test_merge_keys_are_not_special() -> None:
    text = yaml().replace("executor: {type: echo}", "executor:\n          <<: {type: echo}\n          type: echo")
    result = load(text)
    assert codes(result) == [("W-UNKNOWN-KEY", '$.spec.templates[1].task.executor["<<"]')]


def test_multiple_documents_are_rejected() -> None:
    result = load(yaml() + "---\n" + yaml())
    assert codes(result) == [("E-DOC-MULTI", "$")]
    assert the(result, "E-DOC-MULTI").message == "expected one document, found 2"


@pytest.mark.parametrize(
    ("key", "got"),
    [
        ("1", "integer 1"),
        ("true", "boolean true"),
        ("~", "null ~"),
        ("[a, b]", "array"),
        (".inf", "number .inf"),
        ("{a: 1}", "object"),
    ],
)
def test_keys_must_be_strings(key: str, got: str) -> None:
    text = yaml().replace("  name: demo\n", f"  name: demo\n  ? {key}\n  : value\n")
    result = load(text)
    errors = [p for p in result.problems if p.is_error]
    assert [p.code for p in errors] == ["E-TYPE"]
    assert errors[0].message == f"keys must be strings, got {got}"
    assert errors[0].path.startswith("$.metadata")


def test_quoted_numeric_key_is_a_string() -> None:
    text = yaml().replace("labels: {flag: x}", "labels: {'1': x}")
    assert load(text).document.metadata.labels == {"1": "x"}


def test_duplicate_keys_in_yaml() -> None:
    text = yaml().replace("  name: demo\n", "  name: other\n  name: demo\n")
    result = load(text)
    assert codes(result) == [("W-DUPLICATE-KEY", "$.metadata.name")]
    assert result.document.metadata.name == "demo"


def test_yaml_parse_error_position() -> None:
    result = load("apiVersion: aether/v1\nkind: [Workflow\n")
    problem = the(result, "E-DOC-PARSE")
    assert problem.message.startswith("invalid YAML at line ")
    assert problem.line is not None and problem.column is not None


def test_recursive_alias_is_a_parse_error() -> None:
    assert codes(load("a: &x [*x]\n")) == [("E-DOC-PARSE", "$")]


def test_alias_bomb_is_too_large_after_expansion() -> None:
    lines = ["a0: &a0 [xxxxxxxxxx, xxxxxxxxxx, xxxxxxxxxx, xxxxxxxxxx]"]
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    text = "\n".join(lines) + "\n"
    result = load(text, limits=Limits(doc_bytes=len(text) * 2))
    problem = the(result, "E-DOC-TOO-LARGE")
    assert "after alias expansion" in problem.message
    assert problem.message.endswith(f"the limit is {4 * len(text) * 2}")


def test_positions_from_yaml() -> None:
    text = yaml().replace("template: work", "template: missing")
    problem = the(load(text), "E-TEMPLATE-UNKNOWN")
    assert problem.path == "$.spec.templates[0].dag.tasks[0].template"
    assert (problem.line, problem.column) == (13, 13)


def test_load_file_picks_yaml_by_extension(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "flow.yml"
    path.write_text(yaml())
    assert load_file(path).ok
    path = Path(str(tmp_path)) / "flow.yaml"
    path.write_text(yaml())
    assert load_file(path).ok
