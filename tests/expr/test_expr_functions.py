"""SPEC §5.6: the functions."""

from __future__ import annotations

import pytest
from expr_helpers import StrictEnv, error, value

from aether.expr import evaluate
from aether.model.limits import Limits

pytestmark = pytest.mark.spec("5.6")

ENV = {
    "s": "Hello",
    "n": 5,
    "f": 2.5,
    "items": [1, "a", None],
    "obj": {"k": "v", "n": 1},
    "nothing": None,
    "tasks.a.outputs.parameters.rows": [{"id": 7}],
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("len('abc')", 3),
        ("len('héllo😀')", 6),  # code points
        ("len(items)", 3),
        ("len(obj)", 2),
        ("len('')", 0),
        ("len([])", 0),
    ],
)
def test_len(source: str, expected: int) -> None:
    assert value(source, ENV) == expected


@pytest.mark.parametrize("source", ["len(5)", "len(null)", "len(true)", "len(2.5)"])
def test_len_type_error(source: str) -> None:
    assert error(source).code == "E-EXPR-TYPE"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("int(5)", 5),
        ("int(2.9)", 2),
        ("int(-2.9)", -2),
        ("int(true)", 1),
        ("int(false)", 0),
        ("int('42')", 42),
        ("int('  -7 ')", -7),
        ("int('+3')", 3),
        ("int('007')", 7),
    ],
)
def test_int(source: str, expected: int) -> None:
    result = value(source)
    assert result == expected and type(result) is int


@pytest.mark.parametrize(
    "source", ["int('4.5')", "int('abc')", "int('')", "int('1_000')", "int(null)", "int([1])", "int('\u0661')"]
)
def test_int_type_error(source: str) -> None:
    assert error(source).code == "E-EXPR-TYPE"


def test_int_overflow() -> None:
    assert error("int('9223372036854775808')").code == "E-EXPR-OVERFLOW"
    assert error("int(big)", {"big": "9" * 5000}).code == "E-EXPR-OVERFLOW"
    assert value("int('-9223372036854775808')") == -(2**63)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("float(2)", 2.0),
        ("float(2.5)", 2.5),
        ("float('2.5')", 2.5),
        ("float(' 1e3 ')", 1000.0),
        ("float('-.5')", -0.5),
        ("float('7')", 7.0),
    ],
)
def test_float(source: str, expected: float) -> None:
    result = value(source)
    assert result == expected and type(result) is float


@pytest.mark.parametrize("source", ["float('abc')", "float('nan')", "float('inf')", "float(true)", "float(null)"])
def test_float_type_error(source: str) -> None:
    assert error(source).code == "E-EXPR-TYPE"


def test_float_overflow() -> None:
    assert error("float('1e999')").code == "E-EXPR-OVERFLOW"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("str(1)", "1"),
        ("str(2.0)", "2"),
        ("str(1e6)", "1e+06"),
        ("str(true)", "true"),
        ("str(null)", "<nil>"),
        ("str('x')", "x"),
        ("str(items)", "[1 a <nil>]"),
        ("str(obj)", "map[k:v n:1]"),
    ],
)
def test_str(source: str, expected: str) -> None:
    assert value(source, ENV) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("bool(true)", True),
        ("bool(false)", False),
        ("bool('true')", True),
        ("bool('True')", False),
        ("bool('yes')", False),
        ("bool('')", False),
        ("bool(null)", False),
        ("bool(0)", False),
        ("bool(3)", True),
        ("bool(0.0)", False),
        ("bool(-0.5)", True),
        ("bool([])", False),
        ("bool([0])", True),
        ("bool(obj)", True),
    ],
)
def test_bool(source: str, expected: bool) -> None:
    assert value(source, ENV) is expected


def test_case_mapping() -> None:
    assert value("lower(s)", ENV) == "hello"
    assert value("upper(s)", ENV) == "HELLO"
    assert value("upper('straße')") == "STRASSE"
    assert error("lower(5)").code == "E-EXPR-TYPE"
    assert error("upper(null)").code == "E-EXPR-TYPE"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("contains('hello', 'ell')", True),
        ("contains('hello', 'xyz')", False),
        ("contains(items, 'a')", True),
        ("contains(items, null)", True),
        ("contains(items, '1')", True),
        ("contains(items, 2)", False),
        ("contains(obj, 'k')", True),
        ("contains(obj, 'v')", False),
    ],
)
def test_contains(source: str, expected: bool) -> None:
    assert value(source, ENV) is expected


@pytest.mark.parametrize("source", ["contains(5, 5)", "contains('abc', 1)", "contains(obj, 1)"])
def test_contains_type_error(source: str) -> None:
    assert error(source, ENV).code == "E-EXPR-TYPE"


def test_starts_and_ends_with() -> None:
    assert value("startsWith('release-1', 'release')") is True
    assert value("startsWith('release-1', '1')") is False
    assert value("endsWith('release-1', '-1')") is True
    assert value("endsWith('a', '')") is True
    assert error("startsWith(1, '1')").code == "E-EXPR-TYPE"
    assert error("endsWith('1', 1)").code == "E-EXPR-TYPE"


# --- matches ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("matches('abc', 'b')", True),  # unanchored search
        ("matches('abc', '^b')", False),
        ("matches('v1.22', '^v[0-9]+\\\\.[0-9]+$')", True),
        ("matches('1.5', '^[0-9]+(\\\\.[0-9]+)?$')", True),  # an optional group may hold a quantifier
        ("matches('ABC', '(?i)abc')", True),
        ("matches('aaa', '(ab)+')", False),
        ("matches('', '')", True),
    ],
)
def test_matches(source: str, expected: bool) -> None:
    assert value(source) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        "(a)\\\\1",
        "(?P<x>a)(?P=x)",
        "(a)?(?(1)b|c)",
        "a(?=b)",
        "a(?!b)",
        "(?<=a)b",
        "(?<!a)b",
        "(",
        "[z-a]",
        "*a",
    ],
)
def test_matches_rejects_unsafe_or_invalid_patterns(pattern: str) -> None:
    assert error(f"matches('aaaa', '{pattern}')").code == "E-EXPR-REGEX"


def test_matches_limits() -> None:
    limits = Limits(regex_pattern=5, regex_subject=10)
    env = StrictEnv({})
    assert evaluate("matches('0123456789', '12345')", env, limits).value is True
    with pytest.raises(Exception) as info:
        evaluate("matches('0123456789', '123456')", env, limits)
    assert getattr(info.value, "code", None) == "E-EXPR-LIMIT"
    with pytest.raises(Exception) as info:
        evaluate("matches('0123456789A', '1')", env, limits)
    assert getattr(info.value, "code", None) == "E-EXPR-LIMIT"
    assert error("matches(s, 'a')", {"s": "a" * 4097}).code == "E-EXPR-LIMIT"
    assert error("matches('a', p)", {"p": "a" * 257}).code == "E-EXPR-LIMIT"
    assert value("matches(s, p)", {"s": "a" * 4096, "p": "a" * 256}) is True


def test_matches_type_error() -> None:
    assert error("matches(1, '1')").code == "E-EXPR-TYPE"
    assert error("matches('1', null)").code == "E-EXPR-TYPE"


# --- default -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("default(s, 'x')", "Hello"),
        ("default(missing.name, 'x')", "x"),  # unresolved bare path
        ("default(nothing, 'x')", "x"),  # null
        ("default(null, 1)", 1),
        ("default(tasks.a.outputs.parameters.rows[5].id, 0)", 0),  # E-EXPR-INDEX
        ("default(tasks.a.outputs.parameters.rows[0].name, 'n/a')", "n/a"),  # E-EXPR-KEY
        ("default(nope[0], 'u')", "u"),  # E-EXPR-UNDEFINED
        ("default(s[0], 'u')", "u"),  # a string has no positions: E-EXPR-INDEX
        ("default((n).x, 'u')", "u"),  # a number has no fields: E-EXPR-KEY
        ("default(tasks.a.outputs.parameters.rows[0].id, 0)", 7),
        ("default({{ tasks.b.phase }}, 'none')", "none"),
        ("default(obj.k, 'x')", "v"),
        ("default(false, true)", False),
        ("default('', 'x')", ""),
        ("default(default(a, b), 3)", "b"),  # the inner y is an ordinary bare path
        ("default(default(a, null), 3)", 3),
    ],
)
def test_default(source: str, expected: object) -> None:
    assert value(source, ENV) == expected


def test_default_records_no_unresolved_warning_for_its_first_argument() -> None:
    assert evaluate("default(missing.name, 'x')", StrictEnv({})).warnings == ()


def test_default_is_lazy() -> None:
    assert value("default(s, 1 / 0)", ENV) == "Hello"
    assert error("default(nothing, 1 / 0)", ENV).code == "E-EXPR-DIV-ZERO"


def test_default_does_not_hide_other_errors() -> None:
    assert error("default(1 / 0, 2)").code == "E-EXPR-DIV-ZERO"
    assert error("default('a' + 1, 2)").code == "E-EXPR-TYPE"


# --- json --------------------------------------------------------------------------------


def test_json() -> None:
    env = {"o": {"b": 1, "a": [1, 2.5, None, True, "é"]}}
    assert value("json(o)", env) == '{"b":1,"a":[1,2.5,null,true,"é"]}'
    assert value("json('x')") == '"x"'
    assert value("json(null)") == "null"
    assert value("json([])") == "[]"
