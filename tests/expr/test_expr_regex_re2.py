"""SPEC §5.6 ``matches()``: patterns run on RE2, so matching time is linear in
the subject whatever the pattern; what RE2 leaves out is refused by name, at
submit when the pattern is a literal."""

from __future__ import annotations

import pytest
from expr_helpers import error, value

from aether.expr import check_expression

pytestmark = pytest.mark.spec("5.6", "3.3.8", "5.9")

# Overlapping alternation and nested quantifiers: a backtracking engine needs
# time exponential in the subject for these, even on a few dozen characters.
CATASTROPHIC = ["(a|a)*$", "(a|aa)*$", "(a+)+$", "(a*)*b", "((ab)*c)+$", "(?:a|b+){2,}$", "(a?){20}a{20}"]


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_a_catastrophic_pattern_answers_on_a_hostile_subject(pattern: str) -> None:
    """The issue's case ``matches(s, '(a|a)*$')`` on 51 characters ran for minutes
    on Python's backtracking ``re`` (and ``(a|a)*$`` passed the old shape check);
    the nested quantifiers were refused outright. Under the previous engine this
    test is refused (E-EXPR-REGEX) or runs into the suite's timeout."""
    subject = "a" * 4000 + "!"
    assert value(f"matches(s, '{pattern}')", {"s": subject}) in (True, False)
    assert value("matches(s, '(a|a)*$')", {"s": "a" * 51 + "b"}) is True  # the empty match at the end


def test_a_nested_quantifier_matches_as_a_regular_expression_should() -> None:
    assert value("matches('aaab', '^(a+)+b$')") is True
    assert value("matches('aaac', '^(a+)+b$')") is False


@pytest.mark.parametrize(
    ("pattern", "feature"),
    [
        ("(a)\\\\1", "backreferences"),
        ("(?P<x>a)(?P=x)", "backreferences"),
        ("a(?=b)", "lookahead and lookbehind"),
        ("a(?!b)", "lookahead and lookbehind"),
        ("(?<=a)b", "lookahead and lookbehind"),
        ("(a)?(?(1)b|c)", "conditional groups"),
    ],
)
def test_an_unsupported_feature_is_named(pattern: str, feature: str) -> None:
    err = error(f"matches('ab', '{pattern}')")
    assert err.code == "E-EXPR-REGEX"
    assert f"{feature} are not supported" in err.message


def test_an_invalid_pattern_gives_the_reason_of_re2() -> None:
    err = error("matches('ab', '(')")
    assert err.code == "E-EXPR-REGEX"
    assert "missing )" in err.message


def test_a_literal_pattern_that_re2_refuses_is_an_error_at_submit() -> None:
    diagnostics = check_expression("tasks.a.phase == 'Succeeded' && matches(inputs.parameters.v, '(a)\\\\1')")
    assert [(d.code, d.severity) for d in diagnostics] == [("E-EXPR-REGEX", "error")]
    assert "backreferences are not supported" in diagnostics[0].message


def test_a_pattern_known_only_at_run_time_is_judged_at_evaluation() -> None:
    # A placeholder or a path makes the pattern unknown at submit.
    assert check_expression("matches(s, inputs.parameters.pattern)") == []
    assert check_expression("matches(s, '(a)\\\\1{{inputs.parameters.p}}')") == []
    assert error("matches(s, p)", {"s": "aa", "p": "(a)\\1"}).code == "E-EXPR-REGEX"


def test_a_valid_literal_pattern_is_not_reported() -> None:
    assert check_expression("matches(inputs.parameters.v, '^v[0-9]+$')") == []


def test_a_subject_that_is_not_valid_unicode_is_an_expression_error() -> None:
    err = error("matches(s, 'a')", {"s": "a\ud800"})
    assert err.code == "E-EXPR-REGEX"
    assert "lone surrogate" in err.message
