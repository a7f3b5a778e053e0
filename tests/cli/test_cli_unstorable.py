"""``aether validate`` and ``aether run``/``submit`` agree on values the log cannot store
(SPEC §3.2): each refuses the document with exit status 2, naming the path, and nothing is
written — where ``validate`` used to pass them and ``run`` ended in a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.cli import aether
from typer.testing import CliRunner

from aether.cli.main import app

pytestmark = pytest.mark.spec("3.2", "2.1")


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


def deep(levels: int) -> str:
    return json.dumps(document("HOLE")).replace('"HOLE"', "[" * levels + "1" + "]" * levels)


CASES = {
    "deep-250": deep(250),
    "deep-600": deep(600),
    "deep-975": deep(975),
    "integer": json.dumps(document({"x": 10**30})),
    "surrogate": json.dumps(document("\ud800")),
    "overflow": json.dumps(document(0)).replace('"value": 0', '"value": 1e999'),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["run", "submit"])
def test_validate_and_run_refuse_alike_and_write_nothing(tmp_path: Path, case: str, command: str) -> None:
    path = tmp_path / "doc.json"
    path.write_text(CASES[case])
    validated = CliRunner().invoke(app, ["validate", "--json", str(path)])
    assert validated.exit_code == 2, validated.output
    assert json.loads(validated.stdout)[0]["valid"] is False
    db = tmp_path / "aether.db"
    ran = aether(db, command, str(path))
    assert ran.exit_code == 2, ran.output
    assert ran.exception is None or isinstance(ran.exception, SystemExit)
    assert "Traceback" not in ran.output
    assert not db.exists()
