"""Reporting (SPEC §3.1): all problems at once, document order then code, positions,
``--strict``; plus ``validate()``, the converter and the suggestion distance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_helpers import base, codes, load, load_changed, load_document, load_file, tasks, validate

from aether.model import (
    Limits,
    Problem,
    ValidationError,
    dump_document,
    structure,
)
from aether.model.paths import key_path, split_path
from aether.model.suggest import closest_key, damerau_levenshtein
from aether.model.types import Artifact, DagTemplate, ParameterBlock, Workflow

pytestmark = pytest.mark.spec("3.1")


def test_all_problems_at_once_in_document_order_then_code() -> None:
    def change(d: dict) -> None:
        d["metadata"]["name"] = "Bad"
        tasks(d)[0]["template"] = "nope"
        tasks(d)[1]["dependencies"] = ["zz", "zz"]
        d["spec"]["timeout"] = "never"

    result = load_changed(change)
    assert codes(result) == [
        ("E-NAME-DNS1123", "$.metadata.name"),
        ("E-TEMPLATE-UNKNOWN", "$.spec.templates[0].dag.tasks[0].template"),
        ("E-DEP-UNKNOWN", "$.spec.templates[0].dag.tasks[1].dependencies[0]"),
        ("E-DEP-UNKNOWN", "$.spec.templates[0].dag.tasks[1].dependencies[1]"),
        ("W-DURATION-INVALID", "$.spec.timeout"),
    ]
    assert result.document is None


def test_order_follows_the_source_not_the_field_table() -> None:
    text = json.dumps(
        {
            "spec": base()["spec"] | {"timeout": "x"},
            "metadata": {"name": "Bad"},
            "kind": "Workflow",
            "apiVersion": "aether/v1",
        }
    )
    assert [c[0] for c in codes(load(text))] == ["W-DURATION-INVALID", "E-NAME-DNS1123"]


def test_same_path_sorted_by_code() -> None:
    result = load_changed(
        lambda d: tasks(d)[0].update(template="work", templateRef={"name": "x", "template": "y"}, dependencies=["a"])
    )
    at_task = [p.code for p in result.problems if p.path == "$.spec.templates[0].dag.tasks[0]"]
    assert at_task == sorted(at_task)


def test_json_positions() -> None:
    text = json.dumps(base(), indent=2).replace('"template": "work"', '"template": "nope"', 1)
    result = load_document(text)
    problem = result.problems[0]
    assert problem.code == "E-TEMPLATE-UNKNOWN"
    assert problem.line is not None and problem.column is not None
    line = text.splitlines()[problem.line - 1]
    assert line[problem.column - 1 :].startswith('"template": "nope"')


def test_missing_field_gets_nearest_ancestor_position() -> None:
    text = json.dumps(base(), indent=2).replace('"entrypoint": "main",', "")
    problem = load_document(text).problems[0]
    assert problem.code == "E-ENTRYPOINT-REQUIRED"
    assert problem.line is not None
    assert text.splitlines()[problem.line - 1].strip().startswith('"spec"')


def test_strict_turns_warnings_into_errors() -> None:
    relaxed = load_changed(lambda d: d["spec"].update(timeout="never"))
    assert relaxed.ok and relaxed.problems[0].severity == "warning"
    strict = load_changed(lambda d: d["spec"].update(timeout="never"), strict=True)
    assert not strict.ok
    assert [(p.code, p.severity) for p in strict.problems] == [("W-DURATION-INVALID", "error")]


def test_validation_error_text() -> None:
    result = load_changed(lambda d: d["spec"].update(entrypoint="nope", timeout="x"))
    text = str(ValidationError(result.problems))
    assert text.splitlines() == [
        "validation error: 1 problem(s)",
        '$.spec.entrypoint: E-ENTRYPOINT-UNKNOWN: entrypoint template "nope" not found in templates',
    ]


def test_validate_on_a_decoded_document() -> None:
    doc = load(base()).document
    assert isinstance(doc, Workflow)
    assert validate(doc) == []
    broken = structure(dump_document(doc) | {"apiVersion": "v0"}, Workflow)
    problems = validate(broken, strict=True)
    assert [(p.code, p.severity, p.path) for p in problems] == [("E-API-VERSION", "error", "$.apiVersion")]
    assert all(isinstance(p, Problem) for p in problems)


def test_validate_sorts_without_source() -> None:
    doc = load(base()).document
    spec = doc.spec
    dag = spec.templates[0].dag
    bad_tasks = (dag.tasks[0], dag.tasks[1].__class__(name="b", template="nope", dependencies=("zz",)))
    from attrs import evolve

    broken = evolve(
        doc,
        spec=evolve(
            spec,
            templates=(evolve(spec.templates[0], dag=evolve(dag, tasks=bad_tasks)), spec.templates[1]),
            timeout="x",
        ),
    )
    # Without a source the field table gives the order: a task's template before its dependencies.
    assert [p.code for p in validate(broken)] == ["E-TEMPLATE-UNKNOWN", "E-DEP-UNKNOWN", "W-DURATION-INVALID"]


# --- converter -------------------------------------------------------------------------


def test_dump_uses_wire_names_and_omits_absent_fields() -> None:
    doc = load_changed(lambda d: tasks(d)[0].update(continueOn={"failed": True}, retry={"limit": 1})).document
    dumped = dump_document(doc)
    task = dumped["spec"]["templates"][0]["dag"]["tasks"][0]
    assert task == {"name": "a", "template": "work", "retry": {"limit": 1}, "continueOn": {"failed": True}}
    assert dumped["spec"]["maxNestedDepth"] == 3
    assert dump_document(Artifact(name="x", from_="y")) == {"name": "x", "from": "y"}


def test_structure_is_the_inverse_of_dump() -> None:
    doc = load(base()).document
    assert structure(dump_document(doc), Workflow) == doc
    assert structure({"name": "d", "entrypoints": "a"}, DagTemplate).entrypoints == ("a",)
    block = structure({"parameters": [{"name": "p", "value": [1, {"a": None}]}]}, ParameterBlock)
    assert block.parameters[0].value == [1, {"a": None}]


# --- paths and suggestions ----------------------------------------------------------------


def test_paths_quote_unusual_keys() -> None:
    assert key_path("$", "name") == "$.name"
    assert key_path("$.labels", "a.b") == '$.labels["a.b"]'
    assert split_path('$.spec.templates[2].dag["a.b"].x') == ("spec", "templates", 2, "dag", "a.b", "x")


def test_damerau_levenshtein() -> None:
    assert damerau_levenshtein("entrypoint", "entrypoint") == 0
    assert damerau_levenshtein("entrypiont", "entrypoint") == 1  # one transposition
    assert damerau_levenshtein("ca", "abc") == 2
    assert damerau_levenshtein("", "abc") == 3
    assert damerau_levenshtein("kitten", "sitting") == 3


def test_closest_key_threshold_and_ties() -> None:
    assert closest_key("tmplates", ["entrypoint", "templates"]) == "templates"
    assert closest_key("xyz", ["entrypoint", "templates"]) is None
    # threshold max(2, len // 3): 9 letters allow 3 edits.
    assert closest_key("tempabcde", ["templates"]) is None
    assert closest_key("tmpltzs", ["templates"]) is None
    assert closest_key("ab", ["ax", "ay"]) == "ax"
    assert closest_key("ENTRYPOINT", ["entrypoint"]) == "entrypoint"


def test_position_of_a_duplicated_key_is_the_last_occurrence() -> None:
    text = '{"apiVersion": "aether/v1",\n "apiVersion": "v2",\n "kind": "Workflow"}'
    problem = next(p for p in load_document(text).problems if p.code == "E-API-VERSION")
    assert (problem.line, problem.column) == (2, 2)


def test_position_of_a_key_written_in_another_case() -> None:
    text = json.dumps(base(), indent=2).replace('"entrypoint": "main"', '"EntryPoint": "nope"')
    problem = next(p for p in load_document(text).problems if p.code == "E-ENTRYPOINT-UNKNOWN")
    assert problem.line is not None and problem.column is not None
    assert text.splitlines()[problem.line - 1][problem.column - 1 :].startswith('"EntryPoint"')


def test_load_file_problems_instead_of_exceptions(tmp_path: Path) -> None:
    missing = load_file(tmp_path / "nope.json")
    assert [(p.code, p.path) for p in missing.problems] == [("E-DOC-READ", "$")]
    assert "No such file or directory" in missing.problems[0].message
    directory = load_file(tmp_path)
    assert directory.problems[0].code == "E-DOC-READ"
    big = tmp_path / "big.json"
    big.write_text(json.dumps(base()))
    too_large = load_file(big, limits=Limits(doc_bytes=50))
    assert [p.code for p in too_large.problems] == ["E-DOC-TOO-LARGE"]
    assert too_large.problems[0].message.endswith("the limit is 50")
    assert load_file(big).ok
