"""Edges of the expression language that the broader expression tests leave open: paths
referenced through postfix steps, legacy splitting (SPEC §5.10) and the like."""

from __future__ import annotations

import pytest
from expr_helpers import value

from aether.expr.api import pretty
from aether.expr.compiler import compile_expression
from aether.expr.values import render

# --- referenced paths -------------------------------------------------------------------------


def test_paths_reach_through_steps_applied_to_calls_and_parentheses() -> None:
    assert compile_expression("lower(a)[b]").paths() == ("a", "b")
    assert compile_expression("(tasks.a.outputs)['x']").paths() == ("tasks.a.outputs",)
    assert compile_expression("[a][b.c]").paths() == ("a", "b.c")


# --- legacy mode (§5.10) ----------------------------------------------------------------------


def test_legacy_mode_splits_at_an_equals_sign_that_opens_the_text() -> None:
    # "== ''" does not compile; legacy mode splits it into an empty left side and "''".
    assert value("== ''") is True
    assert value("== 'x'") is False


# --- printing (the canonical text parses back to the same tree) -------------------------------


@pytest.mark.parametrize("source", ["(-a).b", "(-a)[0]", "(-x.y)['k']"])
def test_a_negation_under_a_postfix_step_keeps_its_parentheses(source: str) -> None:
    compiled = compile_expression(source)
    printed = pretty(compiled)
    assert printed == source
    assert compile_expression(printed).tree == compiled.tree


# --- rendering (§4.8) -------------------------------------------------------------------------


class TaggedText(str):
    """A string subclass, as YAML loaders hand out for scalars with style or tags."""


def test_a_string_subclass_renders_as_its_text() -> None:
    assert render(TaggedText("night shift")) == "night shift"
    assert render([TaggedText("a"), 1]) == "[a 1]"
