"""SPEC §4.7 interpolation, §4.8 rendering, §5.6 compact JSON."""

from __future__ import annotations

import pytest
from expr_helpers import StrictEnv

from aether.expr import interpolate_string, interpolate_typed, render, to_compact_json

pytestmark = pytest.mark.spec("4.7", "4.8", "5.6")

ENV = {
    "inputs.parameters.items": ["a", "b"],
    "inputs.parameters.n": 3,
    "inputs.parameters.f": 2.0,
    "inputs.parameters.flag": True,
    "inputs.parameters.none": None,
    "inputs.parameters.cfg": {"b": 1, "a": "x"},
    "inputs.parameters.s": "text",
}


# --- rendering ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        ("", ""),
        (True, "true"),
        (False, "false"),
        (None, "<nil>"),
        (1000000, "1000000"),
        (-42, "-42"),
        (0, "0"),
        (2.0, "2"),
        (0.5, "0.5"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1.5e-05, "1.5e-05"),
        (-0.0, "-0"),
        (0.0, "0"),
        (100.0, "100"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (123456.7, "123456.7"),
        (1234567.0, "1.234567e+06"),
        (-2.5e20, "-2.5e+20"),
        (1e100, "1e+100"),
        (0.1 + 0.2, "0.30000000000000004"),
        (5e-324, "5e-324"),
        (["a", 1, True], "[a 1 true]"),
        ([], "[]"),
        ([None, [1, 2], {"k": "v"}], "[<nil> [1 2] map[k:v]]"),
        ({"b": 1, "a": "x"}, "map[a:x b:1]"),
        ({}, "map[]"),
        ({"B": 1, "a": 2, "_": 3}, "map[B:1 _:3 a:2]"),
        (("t", 1), "[t 1]"),
    ],
)
def test_render(value: object, text: str) -> None:
    assert render(value) == text


def test_render_bool_is_not_an_integer() -> None:
    assert render([True, 1, False, 0]) == "[true 1 false 0]"


def test_render_deeply_nested_value_does_not_overflow_the_stack() -> None:
    deep: object = "x"
    for _ in range(5000):
        deep = [deep]
    assert render(deep) == "[" * 5000 + "x" + "]" * 5000


# --- compact JSON ------------------------------------------------------------------------


def test_compact_json() -> None:
    assert to_compact_json({"b": [1, 2.5, None], "a": {"é": True}}) == '{"b":[1,2.5,null],"a":{"é":true}}'
    assert to_compact_json("x\n") == '"x\\n"'
    assert to_compact_json(("a",)) == '["a"]'


# --- interpolation -----------------------------------------------------------------------


def test_rule_1_text_without_placeholders_is_unchanged() -> None:
    assert interpolate_typed("plain text", StrictEnv(ENV)) == "plain text"
    assert interpolate_typed("", StrictEnv(ENV)) == ""
    assert interpolate_typed("{ {x} }", StrictEnv(ENV)) == "{ {x} }"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{inputs.parameters.items}}", ["a", "b"]),
        ("{{ inputs.parameters.n }}", 3),
        ("{{inputs.parameters.f}}", 2.0),
        ("{{inputs.parameters.flag}}", True),
        ("{{inputs.parameters.none}}", None),
        ("{{inputs.parameters.cfg}}", {"b": 1, "a": "x"}),
        ("{{inputs.parameters.items[1]}}", "b"),
        ("{{inputs.parameters.cfg.a}}", "x"),
    ],
)
def test_rule_2_one_whole_placeholder_keeps_the_json_type(text: str, expected: object) -> None:
    result = interpolate_typed(text, StrictEnv(ENV))
    assert result == expected
    assert type(result) is type(expected)


def test_rule_2_unresolved_whole_placeholder_is_unchanged() -> None:
    assert interpolate_typed("{{inputs.parameters.missing}}", StrictEnv(ENV)) == "{{inputs.parameters.missing}}"
    assert interpolate_typed("{{ }}", StrictEnv(ENV)) == "{{ }}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n={{inputs.parameters.n}}", "n=3"),
        ("{{inputs.parameters.n}}{{inputs.parameters.s}}", "3text"),
        ("{{inputs.parameters.f}} and {{inputs.parameters.flag}}", "2 and true"),
        ("[{{inputs.parameters.items}}]", "[[a b]]"),
        ("{{inputs.parameters.cfg}}!", "map[a:x b:1]!"),
        ("{{inputs.parameters.none}}-", "<nil>-"),
        ("a {{missing}} b {{inputs.parameters.s}}", "a {{missing}} b text"),
        ("open {{inputs.parameters.s", "open {{inputs.parameters.s"),
        ("{{inputs.parameters.s}} open {{", "text open {{"),
        ("x }} {{inputs.parameters.s}}", "x }} text"),
        # At each `{{` the next `}}` closes it.
        ("{{a {{inputs.parameters.s}}", "{{a {{inputs.parameters.s}}"),
        ("{{inputs.parameters.s}} {{inputs.parameters.s}}}}", "text text}}"),
    ],
)
def test_rule_3_scan_renders_resolved_and_keeps_unresolved(text: str, expected: str) -> None:
    assert interpolate_typed(text, StrictEnv(ENV)) == expected


def test_string_interpolation_renders_a_typed_result() -> None:
    env = StrictEnv(ENV)
    assert interpolate_string("{{inputs.parameters.items}}", env) == "[a b]"
    assert interpolate_string("{{inputs.parameters.n}}", env) == "3"
    assert interpolate_string("{{inputs.parameters.none}}", env) == "<nil>"
    assert interpolate_string("{{inputs.parameters.s}}", env) == "text"
    assert interpolate_string("x{{missing}}", env) == "x{{missing}}"


def test_interpolation_is_never_an_error() -> None:
    env = StrictEnv(ENV)
    for text in ["{{", "}}", "{{}}", "{{ [ }}", "{{ a[ }}", "{{..}}", "{{ 'x' }}", "{{inputs.parameters.items[9]}}"]:
        assert isinstance(interpolate_string(text, env), str)
