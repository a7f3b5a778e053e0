"""SPEC §5.1: the grammar, precedence, tokens, and compile errors (§5.9)."""

from __future__ import annotations

import pytest
from expr_helpers import error, value

from aether.expr import ExpressionError, compile_expression, pretty
from aether.expr import nodes as n
from aether.model.limits import DEFAULT_LIMITS, Limits

pytestmark = pytest.mark.spec("5.1", "5.9")


def tree(source: str) -> n.Node:
    compiled = compile_expression(source)
    assert not compiled.legacy
    assert compiled.tree is not None
    return compiled.tree


def compile_error(source: str, limits: Limits = DEFAULT_LIMITS) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source, limits)
    return info.value


# --- precedence ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("2 * 3 % 4", 2),
        ("-2 * 3", -6),
        ("- (2 + 3)", -5),
        ("--3", 3),
        ("+4", 4),
        ("true || false && false", True),
        ("(true || false) && false", False),
        ("1 + 2 == 3", True),
        ("1 + 2 * 3 > 6 && 2 - 1 == 1", True),
    ],
)
def test_arithmetic_and_logic_precedence(source: str, expected: object) -> None:
    assert value(source) == expected


def test_not_binds_looser_than_comparison() -> None:
    assert tree("!a == 'b'") == n.Not(n.Compare("==", n.Path("a"), n.StrLit("b")))
    assert value("!tasks.a.phase == 'Failed'", {"tasks.a.phase": "Succeeded"}) is True
    assert value("not tasks.a.phase == 'Failed'", {"tasks.a.phase": "Failed"}) is False


def test_not_binds_tighter_than_and_or() -> None:
    assert tree("!a && b") == n.And((n.Not(n.Path("a")), n.Path("b")))
    assert tree("not a or b") == n.Or((n.Not(n.Path("a")), n.Path("b")))


def test_and_binds_tighter_than_or() -> None:
    assert tree("a || b && c") == n.Or((n.Path("a"), n.And((n.Path("b"), n.Path("c")))))


def test_word_and_symbol_operators_are_the_same() -> None:
    assert tree("a and b or not c") == tree("a && b || !c")


def test_chains_are_flat() -> None:
    assert tree("a || b || c") == n.Or((n.Path("a"), n.Path("b"), n.Path("c")))
    assert tree("1 + 2 - 3") == n.Arith(n.IntLit(1), (("+", n.IntLit(2)), ("-", n.IntLit(3))))


@pytest.mark.parametrize("source", ["a < b < c", "a in b in c", "a <= b not in c"])
def test_comparisons_do_not_chain(source: str) -> None:
    err = compile_error(source)
    assert err.code == "E-EXPR-SYNTAX"


@pytest.mark.parametrize("source", ["a == b == c", "a != b < c", "1 < 2 == true"])
def test_chained_equality_does_not_compile_and_falls_back_to_legacy(source: str) -> None:
    compiled = compile_expression(source)
    assert compiled.legacy
    assert compiled.legacy_reason is not None
    assert compiled.legacy_reason.startswith("E-EXPR-SYNTAX at 1:")


def test_not_in_is_one_operator() -> None:
    assert tree("a not in b") == n.Compare("not in", n.Path("a"), n.Path("b"))
    assert value("3 not in [1, 2]") is True


# --- names, segments, keywords ---------------------------------------------------


def test_hyphen_between_name_characters_is_part_of_the_name() -> None:
    assert tree("tasks.detect-os.outputs.parameters.os") == n.Path(
        "tasks", (n.Field("detect-os"), n.Field("outputs"), n.Field("parameters"), n.Field("os"))
    )
    assert tree("inputs.parameters.items-list") == n.Path("inputs", (n.Field("parameters"), n.Field("items-list")))
    assert tree("a-b") == n.Path("a-b")


def test_spaced_minus_is_subtraction() -> None:
    assert tree("a - b") == n.Arith(n.Path("a"), (("-", n.Path("b")),))
    assert value("a - b", {"a": 5, "b": 2}) == 3
    assert value("10-20") == -10


def test_any_segment_after_a_dot_is_a_name() -> None:
    assert tree("tasks.in.phase") == n.Path("tasks", (n.Field("in"), n.Field("phase")))
    assert tree("tasks.1st.phase") == n.Path("tasks", (n.Field("1st"), n.Field("phase")))
    assert tree("tasks.true.not") == n.Path("tasks", (n.Field("true"), n.Field("not")))
    assert value("tasks.in.phase", {"tasks.in.phase": "Running"}) == "Running"


@pytest.mark.parametrize("keyword", ["and", "or", "not", "in"])
def test_operator_keywords_cannot_start_a_path(keyword: str) -> None:
    assert compile_error(f"{keyword}.x > 1").code == "E-EXPR-SYNTAX"


@pytest.mark.parametrize(("keyword", "literal"), [("true", True), ("false", False), ("null", None)])
def test_literal_keywords_are_never_variables(keyword: str, literal: object) -> None:
    assert value(keyword, {keyword: "variable", f"{keyword}.x": "variable"}) is literal
    assert compile_error("{{ " + keyword + " }}").code == "E-EXPR-SYNTAX"
    # `true.x` is a field of the literal, not a path.
    assert error(f"{keyword}.x", {f"{keyword}.x": 1}).code == "E-EXPR-KEY"


def test_names_that_start_with_a_keyword_are_names() -> None:
    assert tree("order") == n.Path("order")
    assert tree("nullable") == n.Path("nullable")
    assert tree("not-ready") == n.Path("not-ready")
    assert tree("android") == n.Path("android")


def test_keyword_prefix_does_not_split_a_name() -> None:
    # `a order` is not `a or der`.
    assert compile_error("a order").code == "E-EXPR-SYNTAX"


# --- literals -------------------------------------------------------------------


def test_number_literals() -> None:
    assert tree("0") == n.IntLit(0)
    assert tree("42") == n.IntLit(42)
    assert tree("1.5") == n.FloatLit(1.5)
    assert tree("1e3") == n.FloatLit(1000.0)
    assert tree("2.5E-2") == n.FloatLit(0.025)
    assert type(value("1e3")) is float
    assert type(value("3")) is int


def test_leading_zero_is_not_an_integer() -> None:
    assert compile_error("01").code == "E-EXPR-SYNTAX"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (r"'a\\b'", "a\\b"),
        (r"'it\'s'", "it's"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'a\nb\rc\td'", "a\nb\rc\td"),
        (r"'\u00e9'", "é"),
        (r"'\ud83d\ude00'", "\U0001f600"),
        (r"'\d+'", "\\d+"),  # unknown escape: kept as written
        (r"'\u12'", "\\u12"),
        ('"single \' inside"', "single ' inside"),
        ("'line\nbreak'", "line\nbreak"),
    ],
)
def test_string_escapes(source: str, expected: str) -> None:
    assert value(source) == expected


def test_list_literals() -> None:
    assert value("[]") == []
    assert value("[1, 'a', true, null]") == [1, "a", True, None]
    assert value("[1, 2,]") == [1, 2]
    assert value("[[1], [2, [3]]]") == [[1], [2, [3]]]


def test_whitespace_is_ignored() -> None:
    assert value(" 1 +\n\t2\r\n") == 3
    assert value("a . b", {"a.b": 1}) == 1


# --- syntax errors ----------------------------------------------------------------


def test_syntax_error_text_and_position() -> None:
    err = compile_error("tasks.a.phase >= 'x')")
    assert err.code == "E-EXPR-SYNTAX"
    assert (err.line, err.column) == (1, 21)
    assert err.message == 'unexpected ")"'
    assert err.excerpt == "  tasks.a.phase >= 'x')\n" + "  " + " " * 20 + "^"
    assert str(err) == "E-EXPR-SYNTAX at 1:21: unexpected \")\"\n  tasks.a.phase >= 'x')\n" + " " * 22 + "^"


def test_syntax_error_of_an_equality_is_the_legacy_reason() -> None:
    compiled = compile_expression("tasks.a.phase == 'x')")
    assert compiled.legacy
    assert compiled.legacy_reason == 'E-EXPR-SYNTAX at 1:21: unexpected ")"'


def test_syntax_error_on_a_later_line() -> None:
    err = compile_error("a &&\n  b +\n  * c")
    assert (err.line, err.column) == (3, 3)
    assert err.excerpt == "    * c\n    ^"


def test_syntax_error_at_the_end() -> None:
    err = compile_error("a &&")
    assert err.code == "E-EXPR-SYNTAX"
    assert err.message == "unexpected end of expression"
    assert (err.line, err.column) == (1, 5)


def test_syntax_error_columns_count_code_points() -> None:
    err = compile_error("'é€😀' +")
    assert (err.line, err.column) == (1, 8)


def test_unexpected_character() -> None:
    err = compile_error("a # b")
    assert err.code == "E-EXPR-SYNTAX"
    assert (err.line, err.column, err.message) == (1, 3, 'unexpected "#"')


def test_unterminated_string() -> None:
    err = compile_error("x + 'abc")
    assert (err.code, err.column, err.message) == ("E-EXPR-SYNTAX", 5, "unterminated string")


def test_empty_expression_is_a_syntax_error() -> None:
    assert compile_error("").code == "E-EXPR-SYNTAX"
    assert compile_error("   ").code == "E-EXPR-SYNTAX"


def test_syntax_error_is_raised_on_every_evaluation() -> None:
    for _ in range(3):
        err = error("a +")
        assert err.code == "E-EXPR-SYNTAX"
        assert err.__traceback__ is not None


def test_syntax_error_without_position_has_short_text() -> None:
    err = ExpressionError("E-EXPR-TYPE", "bad")
    assert str(err) == "E-EXPR-TYPE: bad"
    assert err.line is None and err.column is None and err.excerpt is None


# --- functions at compile ---------------------------------------------------------


def test_unknown_function_is_a_compile_error_with_position() -> None:
    err = compile_error("1 + nope(2)")
    assert err.code == "E-EXPR-FUNCTION"
    assert (err.line, err.column) == (1, 5)
    assert err.message == 'unknown function "nope"'


@pytest.mark.parametrize("source", ["len()", "len(1, 2)", "default(1)", "matches('a')", "json()"])
def test_wrong_argument_count_is_a_compile_error(source: str) -> None:
    err = compile_error(source)
    assert err.code == "E-EXPR-FUNCTION"
    assert (err.line, err.column) == (1, 1)


def test_function_call_allows_spaces_before_parenthesis() -> None:
    assert value("len ('abc')") == 3


# --- compile limits --------------------------------------------------------------


def test_length_limit() -> None:
    source = "1 + " * 1024 + "1"
    err = compile_error(source)
    assert err.code == "E-EXPR-TOO-LONG"
    assert err.message == f"expression is {len(source)} characters; the limit is 4096"
    assert compile_error("1 + 1", Limits(expr_length=3)).message == ("expression is 5 characters; the limit is 3")


def test_length_limit_is_checked_before_syntax() -> None:
    assert compile_error(")" * 5000).code == "E-EXPR-TOO-LONG"


def test_depth_limit_parentheses() -> None:
    assert value("(" * 64 + "1" + ")" * 64) == 1
    err = compile_error("(" * 65 + "1" + ")" * 65)
    assert err.code == "E-EXPR-TOO-DEEP"
    assert err.message == "expression nesting exceeds 64"


def test_depth_limit_counts_operators_and_calls() -> None:
    limits = Limits(expr_depth=3)
    assert compile_expression("len(str(1 + 2))", limits).tree is not None
    assert compile_error("len(str(1 + 2))", Limits(expr_depth=2)).code == "E-EXPR-TOO-DEEP"
    assert compile_error("len(str((1 + 2)))", limits).code == "E-EXPR-TOO-DEEP"
    assert compile_error("!!!!a", limits).code == "E-EXPR-TOO-DEEP"
    assert compile_error("[[[[1]]]]", limits).code == "E-EXPR-TOO-DEEP"


def test_long_flat_chain_is_not_deep() -> None:
    source = " || ".join(f"x == {i}" for i in range(300))
    assert value(source, {"x": 299}) is True


def test_depth_is_checked_before_syntax() -> None:
    assert compile_error("(" * 100 + "1 +" + ")" * 100).code == "E-EXPR-TOO-DEEP"


def test_very_deep_text_is_reported_not_crashing() -> None:
    assert compile_error("-" * 3000 + "1").code == "E-EXPR-TOO-DEEP"
    assert compile_error("(" * 2000 + "1" + ")" * 2000).code == "E-EXPR-TOO-DEEP"


def test_too_long_and_too_deep_never_become_legacy() -> None:
    assert compile_error("(" * 70 + "a == b").code == "E-EXPR-TOO-DEEP"
    assert compile_error("a == " + "b" * 5000).code == "E-EXPR-TOO-LONG"


# --- printing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "!a == 'b'",
        "!(a && b)",
        "(a || b) && c",
        "a - (b - c)",
        "(a - b) - c",
        "-(-5)",
        "-(5)",
        "(1).x",
        "(a).b",
        "((a).b).c",
        "(a.b)[0]",
        "{{a}}.b",
        "[1][0]",
        "(-1.5)[0]",
        "{{tasks.a.outputs.parameters.x}} == 'it\\'s'",
        "len(x[0]['k']) % 3 >= 2.5e-07",
        "x not in [1, 2.0, 'a\\nb', null, true]",
        "(1 < 2) == true",
        "{{ a.b[0] }}.c",
        "-9223372036854775808",
    ],
)
def test_pretty_reparses_to_the_same_tree(source: str) -> None:
    compiled = compile_expression(source)
    printed = pretty(compiled)
    again = compile_expression(printed)
    assert again.tree == compiled.tree
    assert pretty(again) == printed


def test_pretty_is_canonical() -> None:
    assert pretty(compile_expression("a   and  not b or c")) == "a && !b || c"
    assert pretty(compile_expression("{{ a.b }}")) == "{{a.b}}"
    assert pretty(compile_expression('"x"')) == "'x'"
