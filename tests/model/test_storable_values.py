"""Values the log cannot store are refused where they enter (SPEC §2.1, §3.2
``L-VALUE-DEPTH``): a submitted document or argument holding an integer beyond 64 bits, a
lone surrogate, a non-finite number or nesting deeper than the limit is a validation
error at its path, and submit writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aether.expr import check_expression
from aether.model.limits import DEFAULT_LIMITS
from aether.model.loader import load_document
from aether.model.problems import ValidationError
from aether.model.storable import INT_MAX, INT_MIN, storable_problem
from aether.runtime.submission import load_workflow

pytestmark = pytest.mark.spec("3.2", "2.1")


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def document(value: Any) -> dict[str, Any]:
    return {
        "apiVersion": "aether/v1",
        "kind": "Workflow",
        "metadata": {"name": "w"},
        "spec": {
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "p", "value": value}]},
            "templates": [{"task": {"name": "main", "executor": {"type": "echo"}}}],
        },
    }


def problems_of(text: str) -> list[tuple[str, str]]:
    result = load_document(text, expression_check=check_expression)
    assert result.document is None
    return [(p.code, p.path) for p in result.problems if p.is_error]


VALUE = "$.spec.arguments.parameters[0].value"


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (INT_MAX + 1, VALUE),
        (INT_MIN - 1, VALUE),
        ({"x": 10**30}, VALUE + ".x"),
        ("\ud800", VALUE),
        ({"k\udc00": 1}, VALUE + '["k\\udc00"]'),
    ],
)
def test_values_the_codec_refuses_are_validation_errors_at_their_path(value: Any, path: str) -> None:
    assert problems_of(json.dumps(document(value))) == [("E-VALUE-UNSTORABLE", path)]


@pytest.mark.parametrize("depth", [250, 500, 975])
def test_deep_nesting_is_a_validation_error_not_a_recursion_error(depth: int) -> None:
    text = json.dumps(document("HOLE")).replace('"HOLE"', "[" * depth + '"x"' + "]" * depth)
    codes = [code for code, _ in problems_of(text)]
    assert codes in (["E-VALUE-UNSTORABLE"], ["E-DOC-PARSE"])


def test_the_codec_limits_themselves_are_storable() -> None:
    for value in (INT_MAX, INT_MIN, nested(DEFAULT_LIMITS.value_depth), "é\U0001f600", 1e308):
        assert storable_problem(value, DEFAULT_LIMITS) is None
    assert storable_problem(nested(DEFAULT_LIMITS.value_depth + 1), DEFAULT_LIMITS) is not None


@pytest.mark.parametrize("literal", ["1e999", "-1e400"])
def test_json_numbers_that_overflow_are_rejected_as_yaml_infinities_are(literal: str) -> None:
    text = json.dumps(document(0)).replace('"value": 0', f'"value": {literal}')
    result = load_document(text, expression_check=check_expression)
    (problem,) = [p for p in result.problems if p.is_error]
    assert (problem.code, problem.path) == ("E-TYPE", VALUE)
    assert problem.message == f"value must be a finite number, got {literal}"
    yaml_result = load_document(f"a: {literal}\n", expression_check=check_expression)
    assert ("E-TYPE", "$.a") in [(p.code, p.path) for p in yaml_result.problems]


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_an_integer_too_long_to_convert_is_a_problem_not_a_traceback(fmt: str) -> None:
    digits = "1" * 5000
    text = '{"a": ' + digits + "}" if fmt == "json" else f"a: {digits}\n"
    result = load_document(text, expression_check=check_expression)
    assert ("E-VALUE-UNSTORABLE", "$.a") in [(p.code, p.path) for p in result.problems]


@pytest.mark.parametrize("value", [10**20, "\udcff", nested(300), float("inf")])
def test_submit_refuses_an_argument_the_log_cannot_store(value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        load_workflow(json.dumps(document(1)), limits=DEFAULT_LIMITS, arguments={"p": value})
    [(code, path)] = [(p.code, p.path) for p in caught.value.errors]
    assert code == "E-VALUE-UNSTORABLE" and path.startswith(VALUE)


def test_submit_of_a_mapping_refuses_what_it_cannot_store_instead_of_raising() -> None:
    with pytest.raises(ValidationError) as caught:
        load_workflow(document(float("nan")), limits=DEFAULT_LIMITS)
    assert [(p.code, p.path) for p in caught.value.errors] == [("E-VALUE-UNSTORABLE", VALUE)]
