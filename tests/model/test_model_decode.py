"""Decoding (SPEC §2.1, §2.2, §3.3.1): types, null, unknown keys, key case, duplicates,
document-level errors."""

from __future__ import annotations

import json

import pytest
from model_helpers import (
    assert_clean,
    assert_problem,
    base,
    codes,
    dag,
    load,
    load_changed,
    load_document,
    tasks,
    the,
    with_changes,
)

from aether.model import Limits

pytestmark = pytest.mark.spec("2.1", "2.2", "3.3.1")

# --- document-level -------------------------------------------------------------------


def test_valid_base_document_is_clean() -> None:
    assert_clean(load(base()))


def test_json_parse_error_has_line_and_column() -> None:
    result = load_document('{\n  "apiVersion": "aether/v1",\n  "kind": }')
    problem = the(result, "E-DOC-PARSE")
    assert problem.path == "$"
    assert problem.message.startswith("invalid JSON at line 3 column 11: ")
    assert (problem.line, problem.column) == (3, 11)
    assert result.document is None


def test_json_nan_and_infinity_are_not_json() -> None:
    for constant in ("NaN", "Infinity", "-Infinity"):
        result = load_document('{"apiVersion": "aether/v1", "x": ' + constant + "}")
        problem = the(result, "E-DOC-PARSE")
        assert "is not a JSON value" in problem.message
        assert problem.line == 1


@pytest.mark.parametrize("text", ["[1, 2]", '"text"', "42", "null", "- a\n- b\n", ""])
def test_top_level_must_be_an_object(text: str) -> None:
    result = load_document(text)
    assert codes(result) == [("E-DOC-NOT-OBJECT", "$")]
    assert the(result, "E-DOC-NOT-OBJECT").message == "document must be an object"


def test_document_too_large_names_configured_limit() -> None:
    text = json.dumps(base())
    result = load_document(text, limits=Limits(doc_bytes=100))
    problem = the(result, "E-DOC-TOO-LARGE")
    assert problem.message == f"document is {len(text)} bytes; the limit is 100"
    assert load_document(text.encode(), limits=Limits(doc_bytes=100)).problems[0].code == "E-DOC-TOO-LARGE"


def test_size_counts_utf8_bytes() -> None:
    doc = with_changes(lambda d: d["metadata"].update(annotations={"note": "é" * 60}))
    text = json.dumps(doc, ensure_ascii=False)
    limit = len(text) + 10  # characters fit, bytes do not
    assert the(load_document(text, limits=Limits(doc_bytes=limit)), "E-DOC-TOO-LARGE")


def test_bytes_input_and_bom() -> None:
    text = json.dumps(base())
    assert_clean(load_document(text.encode("utf-8")))
    assert_clean(load_document("\ufeff" + text))
    assert_clean(load_document(b"\xef\xbb\xbf" + text.encode()))


def test_invalid_utf8_is_a_parse_error() -> None:
    result = load_document(b'{"a": "\xff"}')
    assert the(result, "E-DOC-PARSE").message.startswith("invalid JSON at line 1 column 8")


def test_format_sniffing_and_override() -> None:
    text = "\n   " + json.dumps(base())
    assert_clean(load_document(text))
    # YAML is a superset of JSON: the same text read as YAML gives the same document.
    assert load_document(text, fmt="yaml").document == load_document(text).document
    # A YAML flow mapping is JSON by the sniffing rule.
    assert the(load_document("{apiVersion: aether/v1}"), "E-DOC-PARSE")
    assert not any(p.code == "E-DOC-PARSE" for p in load_document("{apiVersion: aether/v1}", fmt="yaml").problems)


# --- types ----------------------------------------------------------------------------


def test_string_field_with_integer() -> None:
    result = load_changed(lambda d: d["metadata"].update(name=5))
    assert codes(result) == [("E-TYPE", "$.metadata.name")]
    assert the(result, "E-TYPE").message == "name must be string, got integer"


@pytest.mark.parametrize(
    ("value", "got"), [(2.0, "number"), (1e2, "number"), (True, "boolean"), ("5", "string"), ([5], "array")]
)
def test_integer_fields_accept_only_integer_literals(value: object, got: str) -> None:
    result = load_changed(lambda d: d["spec"].update(priority=value))
    assert codes(result) == [("E-TYPE", "$.spec.priority")]
    assert the(result, "E-TYPE").message == f"priority must be integer, got {got}"


def test_integer_literal_with_exponent_in_source_is_rejected() -> None:
    text = json.dumps(base()).replace('"entrypoint"', '"priority": 1e2, "entrypoint"')
    assert codes(load(text)) == [("E-TYPE", "$.spec.priority")]


def test_boolean_field() -> None:
    result = load_changed(lambda d: tasks(d)[0].update(continueOn={"failed": "true"}))
    assert_problem(
        result, "E-TYPE", "$.spec.templates[0].dag.tasks[0].continueOn.failed", "failed must be boolean, got string"
    )


def test_array_of_strings_element() -> None:
    result = load_changed(lambda d: tasks(d)[1].update(dependencies=["a", 7]))
    assert codes(result) == [("E-TYPE", "$.spec.templates[0].dag.tasks[1].dependencies[1]")]
    assert the(result, "E-TYPE").message == "dependencies[1] must be string, got integer"


def test_object_expected_and_follow_ups_dropped() -> None:
    result = load_changed(lambda d: d.update(spec=[]))
    assert codes(result) == [("E-TYPE", "$.spec")]
    assert the(result, "E-TYPE").message == "spec must be object, got array"
    metadata = load_changed(lambda d: d.update(metadata="x"))
    assert codes(metadata) == [("E-TYPE", "$.metadata")]


def test_bad_array_element_keeps_later_indexes() -> None:
    def change(d: dict) -> None:
        tasks(d).insert(0, "not-a-task")  # type: ignore[arg-type]
        tasks(d)[2]["dependencies"] = ["zzz"]

    result = load_changed(change)
    assert codes(result) == [
        ("E-TYPE", "$.spec.templates[0].dag.tasks[0]"),
        ("E-DEP-UNKNOWN", "$.spec.templates[0].dag.tasks[2].dependencies[0]"),
    ]
    assert the(result, "E-TYPE").message == "tasks[0] must be object, got string"


def test_number_field_accepts_integers_and_floats() -> None:
    def change(d: dict, factor: object) -> None:
        tasks(d)[0]["retry"] = {"limit": 1, "backoff": {"duration": "1s", "factor": factor}}

    for factor in (2, 1.5):
        result = load_changed(lambda d, f=factor: change(d, f))  # type: ignore[misc]
        assert_clean(result)
        task = result.document.spec.templates[0].dag.tasks[0]
        assert task.retry.backoff.factor == factor
        assert type(task.retry.backoff.factor) is type(factor)
    assert the(load_changed(lambda d: change(d, "2")), "E-TYPE").message == "factor must be number, got string"


def test_resources_unions() -> None:
    def change(d: dict, **resources: object) -> None:
        d["spec"]["templates"][1]["task"]["resources"] = resources

    assert_clean(load_changed(lambda d: change(d, cpu=2, memory="1Gi", gpu=1)))
    assert_clean(load_changed(lambda d: change(d, cpu="500m", gpu="1")))
    assert_clean(load_changed(lambda d: change(d, cpu=0.5)))
    bad = load_changed(lambda d: change(d, cpu=True, gpu=1.5))
    assert [(p.code, p.message) for p in bad.problems] == [
        ("E-TYPE", "cpu must be string or number, got boolean"),
        ("E-TYPE", "gpu must be string or integer, got number"),
    ]


def test_labels_must_be_strings() -> None:
    result = load_changed(lambda d: d["metadata"].update(labels={"team": "x", "n": 3}))
    assert codes(result) == [("E-TYPE", "$.metadata.labels.n")]


# --- null -----------------------------------------------------------------------------


def test_null_is_absent() -> None:
    result = load_changed(lambda d: d["spec"].update(timeout=None, hooks=None, arguments=None))
    assert_clean(result)
    assert result.document.spec.timeout == "1h"
    assert codes(load_changed(lambda d: d["metadata"].update(name=None))) == [("E-NAME-REQUIRED", "$.metadata.name")]


def test_null_inside_free_form_values_is_data() -> None:
    def change(d: dict) -> None:
        tasks(d)[0]["arguments"] = {"parameters": [{"name": "x", "value": [1, None, {"k": None}]}]}

    result = load_changed(change)
    assert_clean(result)
    assert result.document.spec.templates[0].dag.tasks[0].arguments.parameters[0].value == [1, None, {"k": None}]


# --- unknown keys, key case, duplicates -----------------------------------------------


def test_unknown_key_with_suggestion() -> None:
    result = load_changed(lambda d: d["spec"].update(entrypiont="x"))
    problem = the(result, "W-UNKNOWN-KEY")
    assert problem.path == "$.spec.entrypiont"
    assert problem.message == 'unknown key "entrypiont" (did you mean "entrypoint"?)'
    assert problem.severity == "warning"
    assert result.ok


def test_unknown_key_without_suggestion() -> None:
    result = load_changed(lambda d: tasks(d)[0].update(completelyDifferent=1))
    problem = the(result, "W-UNKNOWN-KEY")
    assert problem.path == "$.spec.templates[0].dag.tasks[0].completelyDifferent"
    assert problem.message == 'unknown key "completelyDifferent"'


def test_unknown_key_suggestion_is_case_insensitive_and_ties_go_to_field_order() -> None:
    def change(d: dict) -> None:
        d["spec"]["templates"][1]["task"]["resources"] = {"xpu": "1"}

    # "xpu" is one edit from both "cpu" and "gpu"; cpu comes first in the table.
    assert the(load_changed(change), "W-UNKNOWN-KEY").message == 'unknown key "xpu" (did you mean "cpu"?)'
    result = load_changed(lambda d: tasks(d)[0].update(DEPENDECIES=["x"]))
    assert the(result, "W-UNKNOWN-KEY").message == 'unknown key "DEPENDECIES" (did you mean "dependencies"?)'


def test_strict_rejects_unknown_keys() -> None:
    result = load_changed(lambda d: d["spec"].update(entrypiont="x"), strict=True)
    problem = the(result, "W-UNKNOWN-KEY")
    assert problem.severity == "error"
    assert not result.ok


@pytest.mark.parametrize(
    "where",
    [
        lambda d: d["metadata"].update(labels={"anything": "x"}, annotations={"whatever": "y"}),
        lambda d: d["spec"]["templates"][1]["task"]["executor"].update(config={"unknownKnob": {"deep": 1}}),
        lambda d: tasks(d)[0].update(
            arguments={"parameters": [{"name": "p", "value": {"nme": 1}, "default": {"x": 2}, "enum": [{"y": 3}]}]}
        ),
        lambda d: d["spec"]["templates"].append({"loop": {"name": "l", "body": "work", "items": [{"tmeplate": 1}]}}),
    ],
)
def test_free_form_objects_have_no_unknown_keys(where: object) -> None:
    result = load_changed(where)  # type: ignore[arg-type]
    assert not any(p.code == "W-UNKNOWN-KEY" for p in result.problems), codes(result)


def test_key_case() -> None:
    text = json.dumps(base()).replace('"entrypoint"', '"Entrypoint"')
    result = load(text)
    assert codes(result) == [("W-KEY-CASE", "$.spec.Entrypoint")]
    assert the(result, "W-KEY-CASE").message == 'key "Entrypoint" taken as "entrypoint"'
    assert result.document.spec.entrypoint == "main"


def test_key_case_last_spelling_wins() -> None:
    text = json.dumps(base()).replace('"entrypoint": "main"', '"entrypoint": "main", "ENTRYPOINT": "other"')
    result = load(text)
    assert ("W-KEY-CASE", "$.spec.ENTRYPOINT") in codes(result)
    assert_problem(result, "E-ENTRYPOINT-UNKNOWN", "$.spec.entrypoint")


def test_duplicate_keys_last_wins() -> None:
    text = json.dumps(base()).replace('"entrypoint": "main"', '"entrypoint": "nope", "entrypoint": "main"')
    result = load(text)
    assert codes(result) == [("W-DUPLICATE-KEY", "$.spec.entrypoint")]
    assert the(result, "W-DUPLICATE-KEY").message == 'duplicate key "entrypoint"; the last value is used'
    assert result.document.spec.entrypoint == "main"


def test_duplicate_keys_inside_free_form_values() -> None:
    text = json.dumps(base()).replace('{"type": "echo"}', '{"type": "echo", "config": {"a": 1, "a": 2}}')
    result = load(text)
    assert codes(result) == [("W-DUPLICATE-KEY", "$.spec.templates[1].task.executor.config.a")]
    assert result.document.spec.templates[1].task.executor.config == {"a": 2}


def test_duplicate_key_then_case_variant_order() -> None:
    # The last occurrence in document order decides, duplicates included.
    text = json.dumps(base()).replace(
        '"entrypoint": "main"', '"entrypoint": "x", "Entrypoint": "y", "entrypoint": "main"'
    )
    result = load(text)
    assert result.document.spec.entrypoint == "main"


# --- entrypoints and the template wrapper ----------------------------------------------


def test_dag_entrypoints_string_becomes_tuple() -> None:
    result = load_changed(lambda d: dag(d).update(entrypoints="a"))
    assert_clean(result)
    assert result.document.spec.templates[0].dag.entrypoints == ("a",)


@pytest.mark.parametrize("value", [5, {"a": 1}, ["a", 1], True])
def test_dag_entrypoints_of_another_type_is_ignored_with_warning(value: object) -> None:
    result = load_changed(lambda d: dag(d).update(entrypoints=value))
    assert codes(result) == [("W-DAG-ENTRYPOINTS-TYPE", "$.spec.templates[0].dag.entrypoints")]
    assert the(result, "W-DAG-ENTRYPOINTS-TYPE").message == "entrypoints must be a string or a list of strings; ignored"
    assert result.document.spec.templates[0].dag.entrypoints is None


def test_template_variant_key_typo() -> None:
    result = load_changed(lambda d: d["spec"]["templates"].append({"tsak": {"name": "x"}}))
    assert_problem(result, "W-UNKNOWN-KEY", "$.spec.templates[2].tsak", 'unknown key "tsak" (did you mean "task"?)')
    assert_problem(result, "E-TEMPLATE-VARIANT", "$.spec.templates[2]")
