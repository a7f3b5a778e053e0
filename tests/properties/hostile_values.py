"""Generators of values an attacker would put in a document, a task's outputs or an
expression: integers at and past the codec's edges, lone surrogates, non-finite numbers,
deep nesting, long strings and odd keys."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

INT_EDGES = [2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30, -(10**30), 2**63]
ODD_STRINGS = ["\ud800", "a\udfffb", "\udc00\ud800", "é😀", "\x00", "", "{{", "$.x", '"', "\\", "\u2028"]
ODD_FLOATS = [float("inf"), float("-inf"), float("nan"), 1e308, -0.0, 5e-324]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(INT_EDGES),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(ODD_FLOATS),
    st.sampled_from(ODD_STRINGS),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=8),
    st.integers(min_value=0, max_value=300_000).map(lambda n: "x" * n),
)
keys = st.one_of(st.sampled_from(ODD_STRINGS), st.text(alphabet=st.characters(exclude_categories=()), max_size=5))


def nested(value: Any, depth: int) -> Any:
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(keys, inner, max_size=3),
    ),
    max_leaves=8,
)
hostile_values = st.one_of(
    values,
    st.tuples(values, st.integers(min_value=90, max_value=600)).map(lambda pair: nested(*pair)),
)

EXPRESSIONS = [
    "'\\ud800'",
    "100000000000000000000000000000 > 1",
    "18446744073709551616 == 18446744073709551616",
    "1e999 > 0",
    "tasks.a.outputs.parameters.v == 1",
    "str(tasks.a.outputs.parameters.v) != ''",
    "matches('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!', '(a|a)*$')",
    "len([1, 2, 3]) == 3",
    "true",
    "((((((((((1))))))))))",
]
expressions = st.sampled_from(EXPRESSIONS)
