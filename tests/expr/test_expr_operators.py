"""SPEC §5.5 operators, §5.2 value ranges, §5.7 boolean conversion."""

from __future__ import annotations

import math

import pytest
from expr_helpers import error, value

pytestmark = pytest.mark.spec("5.2", "5.5", "5.7")

# --- arithmetic ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2", 3),
        ("1 + 2.0", 3.0),
        ("1.5 + 1.5", 3.0),
        ("'ab' + 'cd'", "abcd"),
        ("[1] + [2, 3]", [1, 2, 3]),
        ("5 - 7", -2),
        ("5 - 0.5", 4.5),
        ("6 * 7", 42),
        ("6 * 0.5", 3.0),
        ("7 / 2", 3.5),
        ("6 / 3", 2.0),
        ("-6 / 4", -1.5),
        ("7 % 3", 1),
        ("-7 % 3", 2),
        ("7 % -3", -2),
        ("7.5 % 2", 1.5),
        ("-7.5 % 2", 0.5),
        ("-(3)", -3),
        ("+(3.5)", 3.5),
    ],
)
def test_arithmetic(source: str, expected: object) -> None:
    result = value(source)
    assert result == expected
    assert type(result) is type(expected)


def test_division_is_always_float() -> None:
    assert type(value("4 / 2")) is float


def test_int_plus_int_stays_int_even_from_variables() -> None:
    assert type(value("a + b", {"a": 2, "b": 3})) is int
    assert type(value("a + b", {"a": 2, "b": 3.0})) is float


@pytest.mark.parametrize("source", ["1 / 0", "1 / 0.0", "1.5 / -0.0", "1 % 0", "2.5 % 0.0"])
def test_division_by_zero(source: str) -> None:
    assert error(source).code == "E-EXPR-DIV-ZERO"


@pytest.mark.parametrize(
    "source",
    [
        "9223372036854775807 + 1",
        "-9223372036854775808 - 1",
        "9223372036854775807 * 2",
        "-(-9223372036854775807 - 1)",
        "9223372036854775808",
        "1e308 * 10",
        "1e308 + 1e308",
        "1e308 / 1e-308",
        "1e999",
        "int(1e300)",
    ],
)
def test_overflow(source: str) -> None:
    assert error(source).code == "E-EXPR-OVERFLOW"


def test_64_bit_bounds_are_allowed() -> None:
    assert value("9223372036854775807") == 2**63 - 1
    assert value("-9223372036854775808") == -(2**63)
    assert value("-9223372036854775807 - 1") == -(2**63)


@pytest.mark.parametrize(
    "source",
    [
        "'a' + 1",
        "1 + 'a'",
        "[1] + 'a'",
        "true + 1",
        "null + 1",
        "'a' - 'b'",
        "'a' * 2",
        "[1] * 2",
        "true / 1",
        "'6' % 4",
        "-'a'",
        "+true",
        "-[1]",
    ],
)
def test_arithmetic_type_errors(source: str) -> None:
    assert error(source).code == "E-EXPR-TYPE"


# --- ordering ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 2.5", True),
        ("2.0 >= 2", True),
        ("'a' < 'b'", True),
        ("'B' < 'a'", True),  # code-point order
        ("'ab' > 'a'", True),
        ("'é' > 'z'", True),
        ("-1 < 0", True),
    ],
)
def test_ordering(source: str, expected: bool) -> None:
    assert value(source) is expected


@pytest.mark.parametrize("source", ["1 < '2'", "'a' < 1", "true < false", "null < 1", "[1] < [2]", "1 >= true"])
def test_ordering_type_errors(source: str) -> None:
    assert error(source).code == "E-EXPR-TYPE"


def test_ordering_error_suggests_conversion_for_numeric_strings() -> None:
    err = error("count > 3", {"count": "5"})
    assert err.code == "E-EXPR-TYPE"
    assert "int()" in err.message and "float()" in err.message
    assert "int()" not in error("'x' > 3").message


# --- equality --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("2 == 2.0", True),
        ("2 == 3", False),
        ("'a' == 'a'", True),
        ("'a' == 'A'", False),
        ("true == true", True),
        ("true == false", False),
        ("null == null", True),
        ("[1, 'a'] == [1.0, 'a']", True),
        ("[1, 2] == [1]", False),
        # compatibility rule: string and non-string compare by rendering
        ("true == 'true'", True),
        ("2 == '2'", True),
        ("2.0 == '2'", True),
        ("2.5 == '2.5'", True),
        ("null == '<nil>'", True),
        ("null == ''", False),
        ("[1, 2] == '[1 2]'", True),
        ("1000000 == '1000000'", True),
        ("1e6 == '1e+06'", True),
        # anything else is false
        ("1 == true", False),
        ("0 == false", False),
        ("null == 0", False),
        ("[1] == 1", False),
        ("null == false", False),
    ],
)
def test_equality(source: str, expected: bool) -> None:
    assert value(source) is expected
    assert value(source.replace("==", "!=", 1)) is (not expected)


def test_object_equality() -> None:
    env = {"a": {"x": 1, "y": [1, 2]}, "b": {"y": [1.0, 2], "x": 1.0}, "c": {"x": 1}}
    assert value("a == b", env) is True
    assert value("a == c", env) is False
    assert value("a != c", env) is True


def test_equality_never_raises() -> None:
    env = {"a": {"k": [1, {"z": None}]}, "b": [None, True, 2.5, "s"]}
    for left in ("a", "b", "1", "'s'", "null", "true", "2.5"):
        for right in ("a", "b", "1", "'s'", "null", "true", "2.5"):
            assert isinstance(value(f"{left} == {right}", env), bool)


# --- membership ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("2 in [1, 2, 3]", True),
        ("2.0 in [1, 2, 3]", True),
        ("'2' in [1, 2, 3]", True),  # equality rules, incl. the compatibility rule
        ("4 in [1, 2, 3]", False),
        ("'ell' in 'hello'", True),
        ("'' in 'x'", True),
        ("'z' in 'hello'", False),
        ("'k' in obj", True),
        ("'v' in obj", False),
        ("[1] in [[1], [2]]", True),
        ("4 not in [1, 2, 3]", True),
        ("'ell' not in 'hello'", False),
    ],
)
def test_membership(source: str, expected: bool) -> None:
    assert value(source, {"obj": {"k": "v"}}) is expected


@pytest.mark.parametrize("source", ["1 in 'abc'", "'a' in 5", "1 in obj", "'a' in null", "1 not in true"])
def test_membership_type_errors(source: str) -> None:
    assert error(source, {"obj": {"k": "v"}}).code == "E-EXPR-TYPE"


# --- logic ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("true && true", True),
        ("true && false", False),
        ("false || true", True),
        ("false or false", False),
        ("!false", True),
        ("not true", False),
        ("'true' && true", True),  # the string "true" is true
        ("'True' || false", False),  # any other string is false
        ("'yes' || false", False),
        ("null || false", False),
        ("!null", True),
        ("!'false'", True),
    ],
)
def test_logic(source: str, expected: bool) -> None:
    assert value(source) is expected


def test_logic_short_circuits() -> None:
    # The right side would fail if it were evaluated.
    assert value("false && 1 / 0 == 1") is False
    assert value("true || 1 / 0 == 1") is True
    assert value("true and false and undefined[0]") is False
    assert error("true && 1 / 0 == 1").code == "E-EXPR-DIV-ZERO"


@pytest.mark.parametrize("source", ["1 && true", "true && 0", "[] || true", "!1", "not ('x' == 'x') || 3"])
def test_logic_needs_booleans(source: str) -> None:
    assert error(source).code == "E-EXPR-NOT-BOOLEAN"


def test_float_results_are_finite_or_errors() -> None:
    assert math.isfinite(value("1e308 + 1"))
