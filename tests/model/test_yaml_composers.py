"""The two YAML composers read alike (SPEC §2.1): a document libyaml composes (ASCII, no
directives) decodes to the same value, the same duplicate keys, the same problems and the
same positions for every path as when ruamel composes it, and whatever libyaml refuses is
read, and explained, by ruamel."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from aether.model.paths import index_path, key_path
from aether.model.positions import YamlLocator
from aether.model.yaml_core import (
    YamlParseError,
    _compose_with_libyaml,
    _compose_with_ruamel,
    _Converter,
    _libyaml_reads_alike,
    compose_yaml,
)

pytestmark = pytest.mark.spec("2.1")

MAX_SIZE = 10_000_000
REPOSITORY = Path(__file__).resolve().parents[2]


def decoded(nodes: list[Any]) -> list[tuple[Any, list[tuple[str, ...]], list[Any], dict[str, Any]]]:
    """Each document's value, duplicate keys, problems, and the position of every path."""
    out = []
    for node in nodes:
        converter = _Converter(MAX_SIZE)
        converter.expanded_size(node)
        value = converter.convert(node, "$")
        locator = YamlLocator(node)
        out.append((value, list(converter.duplicates.values()), converter.problems, positions(value, locator, (), "$")))
    return out


def positions(value: Any, locator: YamlLocator, segments: tuple[Any, ...], path: str) -> dict[str, Any]:
    found = {path: locator.locate(segments)}
    if isinstance(value, dict):
        for key, item in value.items():
            found.update(positions(item, locator, (*segments, key), key_path(path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.update(positions(item, locator, (*segments, index), index_path(path, index)))
    return found


def assert_read_alike(text: str) -> None:
    assert _libyaml_reads_alike(text)
    fast = _compose_with_libyaml(text)
    try:
        careful = _compose_with_ruamel(text)
    except YamlParseError:
        assert fast is None, "libyaml accepted what ruamel refuses"
        return
    if fast is None:
        return  # refused by libyaml only: ruamel reads it, as compose_yaml does
    assert outcome(fast) == outcome(careful)


def outcome(nodes: list[Any]) -> Any:
    """What decoding the composed documents comes to, a refusal included."""
    try:
        return decoded(nodes)
    except YamlParseError as refused:
        return ("refused", refused.message, refused.line, refused.column)


# Scalars chosen to hit the core schema's corners and YAML's quoting rules.
tricky_text = st.sampled_from(
    [
        "yes", "no", "on", "off", "y", "n", "true", "False", "TRUE", "null", "Null", "~", "",
        "0x1F", "0o17", "017", "0b101", "1_000", "1e3", "-1.5", ".5", "+12", ".inf", "-.Inf", ".nan",
        "2026-12-08", "12:30:00", "1:20", "a: b", "#not a comment", "- item", "[x]", "{y}", "'q'",
        '"d"', "  leading", "trailing  ", "tab\there", "back\\slash", "line\nbreak", "*alias", "&anchor",
        "!tag", "%percent", "@at", "`tick", "|", ">", "?", "<<", "=", "\\/",
    ]
)  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    tricky_text,
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
)
keys = st.one_of(tricky_text.filter(bool), st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=8))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)


def dumped(value: Any, style: str) -> str:
    """``value`` written as YAML in one of several styles."""
    if style == "pyyaml-block":
        import yaml

        return yaml.safe_dump(value, default_flow_style=False, allow_unicode=False, sort_keys=False)
    if style == "pyyaml-flow":
        import yaml

        return yaml.safe_dump(value, default_flow_style=True, allow_unicode=False, sort_keys=False)
    writer = YAML(typ="safe", pure=True)
    writer.default_flow_style = style == "ruamel-flow"
    writer.allow_unicode = False
    stream = io.StringIO()
    writer.dump(value, stream)
    return stream.getvalue()


@given(values, st.sampled_from(["pyyaml-block", "pyyaml-flow", "ruamel-block", "ruamel-flow"]))
def test_generated_documents_read_alike(value: Any, style: str) -> None:
    text = dumped(value, style)
    if _libyaml_reads_alike(text):
        assert_read_alike(text)


HANDWRITTEN = [
    "a: &x {b: [1, 2]}\nc: *x\nd: *x\n",
    "base: &b\n  k: 1\nmerged:\n  <<: *b\n  k: 2\n",
    "k: 1\nk: 2\nother: {z: 1, z: 2}\n",
    "? [complex, key]\n: value\n",
    "? 12\n: number key\n1.5: float key\ntrue: bool key\n~: null key\n",
    "text: |\n  line one\n    indented\n  last\nfolded: >-\n  one\n  two\n\n  three\n",
    "s: !!str 12\ni: !!int '7'\nf: !!float 1\nb: !!binary aGk=\nc: !custom x\n",
    "quoted: 'it''s'\ndouble: \"tab\\tnew\\nline \\x41 \\u0042\"\n",
    "empty:\nlist:\n- \n- a\n-\n",
    "a: 1\n---\nb: 2\n",
    "---\n...\n",
    "",
    "# only a comment\n",
    "deep: [[[[[[1]]]]]]\n",
    "flow: {a: [b, {c: d}], e: f}\n",
    "x: &a 1\ny: &a 2\nz: *a\n",  # a redefined anchor: legal YAML, the later one wins
    "bad: [unclosed\n",
    "key: value\n  bad indent: x\n",
    "tabs:\n\t- x\n",
    "r: &r [*r]\n",
    "long: " + "x" * 2000 + "\n",
    "k" * 1100 + ": long key\n",
]


@pytest.mark.parametrize("text", HANDWRITTEN)
def test_handwritten_documents_read_alike(text: str) -> None:
    assert_read_alike(text)


def test_the_documents_of_the_repository_read_alike() -> None:
    found = [p for p in REPOSITORY.rglob("*.y*ml") if ".git" not in p.parts and p.suffix in (".yaml", ".yml")]
    assert found, "the repository's examples are YAML"
    for path in found:
        text = path.read_text()
        if _libyaml_reads_alike(text):
            assert_read_alike(text)


@pytest.mark.parametrize(
    "text",
    ["name: caf\u00e9\n", "a: 1\u2028b: 2\n", "%YAML 1.2\n---\na: 1\n", "%TAG !e! tag:example.com,2000:\n---\na: 1\n"],
)
def test_what_libyaml_may_read_otherwise_goes_to_ruamel(text: str) -> None:
    assert not _libyaml_reads_alike(text)
    try:
        expected = ("read", decoded(_compose_with_ruamel(text))[0][0])
    except YamlParseError as refused:
        expected = ("refused", refused.message)
    try:
        assert ("read", compose_yaml(text, MAX_SIZE).data) == expected
    except YamlParseError as refused:
        assert ("refused", refused.message) == expected
