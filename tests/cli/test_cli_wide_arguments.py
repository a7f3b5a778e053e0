"""A command-line argument (``-p NAME=VALUE``) holding an integer the log cannot store is
refused like one in a document (SPEC §3.2, §7.2): exit status 2, the message names the
range the log stores, and nothing is written — where the JSON parser used to turn it into
a float and lose its digits silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import aether

from aether.model.storable import INT_MAX, INT_MIN
from aether.runtime.submission import parse_argument

pytestmark = pytest.mark.spec("3.2", "7.2")

DOCUMENT = {
    "apiVersion": "aether/v1",
    "kind": "Workflow",
    "metadata": {"name": "w"},
    "spec": {
        "entrypoint": "main",
        "arguments": {"parameters": [{"name": "x"}]},
        "templates": [{"task": {"name": "main", "executor": {"type": "echo"}}}],
    },
}
RANGE = f"outside the range the log stores ({INT_MIN} to {INT_MAX})"


@pytest.mark.parametrize("command", ["run", "submit"])
@pytest.mark.parametrize("value", [str(INT_MAX + 1), str(INT_MIN - 1), '{"a": [1, 100000000000000000000000000000]}'])
def test_an_integer_beyond_the_log_range_is_refused_and_nothing_is_written(
    tmp_path: Path, command: str, value: str
) -> None:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(DOCUMENT))
    db = tmp_path / "aether.db"
    result = aether(db, command, str(path), "-p", f"x={value}")
    assert result.exit_code == 2, result.output
    assert 'argument "x": integer' in result.output and RANGE in result.output
    assert "Traceback" not in result.output
    assert not db.exists()


@pytest.mark.parametrize("value", [INT_MIN, INT_MAX, 0, -1])
def test_integers_within_the_range_stay_exact(value: int) -> None:
    assert parse_argument(f"x={value}") == ("x", value)


def test_a_long_integer_is_named_by_its_digits() -> None:
    with pytest.raises(ValueError, match=f"integer of 30 digits is {RANGE.replace('(', '[(]').replace(')', '[)]')}"):
        parse_argument("x=" + "1" + "0" * 29)


def test_other_values_parse_as_before() -> None:
    assert parse_argument("x=1.5") == ("x", 1.5)
    assert parse_argument("x=text") == ("x", "text")
    assert parse_argument('x={"n": [1, 2]}') == ("x", {"n": [1, 2]})
