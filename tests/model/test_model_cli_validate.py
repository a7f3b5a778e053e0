"""``aether validate FILE... [--json] [--strict]``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from model_helpers import base, with_changes
from typer.testing import CliRunner, Result

from aether.cli.validate_cmd import register

pytestmark = pytest.mark.spec("2.2", "3.1")

LINE = re.compile(
    r"^(?P<file>.+?):(?:(?P<line>\d+):(?P<column>\d+):)?(?P<path>\$\S*): (?P<code>[EW]-[A-Z0-9-]+) (?P<message>.+)$"
)


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    register(app)
    return app


def write(tmp_path: Path, name: str, doc: dict | str) -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def run(app: typer.Typer, *args: str) -> Result:
    return CliRunner().invoke(app, ["validate", *args])


def test_valid_file_exits_zero(app: typer.Typer, tmp_path: Path) -> None:
    path = write(tmp_path, "ok.json", base())
    result = run(app, str(path))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_warnings_go_to_stderr_and_do_not_fail(app: typer.Typer, tmp_path: Path) -> None:
    path = write(tmp_path, "warn.json", with_changes(lambda d: d["spec"].update(entrypiont="x")))
    result = run(app, str(path))
    assert result.exit_code == 0
    (line,) = result.stderr.splitlines()
    match = LINE.match(line)
    assert match is not None, line
    assert (match["file"], match["path"], match["code"]) == (str(path), "$.spec.entrypiont", "W-UNKNOWN-KEY")
    assert match["message"] == 'unknown key "entrypiont" (did you mean "entrypoint"?)'


def test_errors_exit_two_with_one_line_per_problem(app: typer.Typer, tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", "apiVersion: aether/v1\nkind: Workflow\nmetadata: {name: Bad}\nspec: {}\n")
    good = write(tmp_path, "good.json", base())
    result = run(app, str(bad), str(good))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 3
    for line in lines:
        match = LINE.match(line)
        assert match is not None, line
        assert match["file"] == str(bad)
    assert [LINE.match(line)["code"] for line in lines] == [  # type: ignore[index]
        "E-NAME-DNS1123",
        "E-ENTRYPOINT-REQUIRED",
        "E-TEMPLATES-REQUIRED",
    ]


def test_unreadable_file(app: typer.Typer, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    result = run(app, str(missing))
    assert result.exit_code == 2
    line = result.stderr.splitlines()[0]
    assert line.startswith(f"{missing}:$: E-DOC-READ ")
    assert "Traceback" not in result.output


def test_strict(app: typer.Typer, tmp_path: Path) -> None:
    path = write(tmp_path, "warn.json", with_changes(lambda d: d["spec"].update(timeout="soon")))
    assert run(app, str(path)).exit_code == 0
    result = run(app, "--strict", str(path))
    assert result.exit_code == 2
    assert "W-DURATION-INVALID" in result.stderr


def test_unknown_executor_is_reported(app: typer.Typer, tmp_path: Path) -> None:
    doc = with_changes(lambda d: d["spec"]["templates"][1]["task"]["executor"].update(type="kafka"))
    result = run(app, str(write(tmp_path, "x.json", doc)))
    assert result.exit_code == 0
    assert "W-EXECUTOR-UNKNOWN" in result.stderr
    for builtin, config in VALID_CONFIGS.items():
        doc = with_changes(
            lambda d, b=builtin, c=config: d["spec"]["templates"][1]["task"].update(executor={"type": b, "config": c})  # type: ignore[misc]
        )
        assert run(app, str(write(tmp_path, f"{builtin}.json", doc))).stderr == ""


VALID_CONFIGS: dict[str, dict] = {
    "echo": {},
    "shell": {"command": "true"},
    "script": {"runtime": "python3", "source": "print(1)"},
    "python": {"function": "json:dumps"},
    "http": {"url": "https://example.com"},
    "await": {},
}


@pytest.mark.spec("3.3.5", "14.3")
def test_a_misspelt_builtin_config_is_reported_as_run_would(app: typer.Typer, tmp_path: Path) -> None:
    doc = with_changes(
        lambda d: d["spec"]["templates"][1]["task"].update(executor={"type": "shell", "config": {"comand": "true"}})
    )
    result = run(app, str(write(tmp_path, "typo.json", doc)))
    assert result.exit_code == 0
    (line,) = result.stderr.splitlines()
    match = LINE.match(line)
    assert match is not None, line
    assert (match["path"], match["code"]) == ("$.spec.templates[1].task.executor.config", "W-EXECUTOR-CONFIG")
    assert match["message"] == 'executor "shell" config: shell: "command" is required'
    assert run(app, "--strict", str(write(tmp_path, "typo.json", doc))).exit_code == 2


@pytest.mark.spec("3.1")
def test_text_output_gives_the_line_and_column_json_gives(app: typer.Typer, tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", "apiVersion: aether/v1\nkind: Workflow\nmetadata: {name: Bad}\nspec: {}\n")
    text = run(app, str(bad)).stderr.splitlines()
    problems = json.loads(run(app, "--json", str(bad)).stdout)[0]["problems"]
    assert len(text) == len(problems) == 3
    for line, problem in zip(text, problems, strict=True):
        match = LINE.match(line)
        assert match is not None, line
        assert (int(match["line"]), int(match["column"])) == (problem["line"], problem["column"])
        assert line.startswith(f"{bad}:{problem['line']}:{problem['column']}:{problem['path']}: {problem['code']} ")


def test_json_output(app: typer.Typer, tmp_path: Path) -> None:
    good = write(tmp_path, "good.json", base())
    bad = write(tmp_path, "bad.json", with_changes(lambda d: d["spec"].update(entrypoint="nope")))
    result = run(app, "--json", str(good), str(bad))
    assert result.exit_code == 2
    assert result.stderr == ""
    report = json.loads(result.stdout)
    assert report[0] == {"file": str(good), "valid": True, "problems": []}
    assert report[1]["file"] == str(bad)
    assert report[1]["valid"] is False
    problem = report[1]["problems"][0]
    assert {k: problem[k] for k in ("code", "severity", "path")} == {
        "code": "E-ENTRYPOINT-UNKNOWN",
        "severity": "error",
        "path": "$.spec.entrypoint",
    }
    assert isinstance(problem["line"], int) and isinstance(problem["column"], int)


def test_help(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["validate", "--help"])
    assert result.exit_code == 0
    assert "--strict" in result.output and "--json" in result.output


def test_installed_command_never_shows_a_traceback(tmp_path: Path) -> None:
    garbage = write(tmp_path, "garbage.yaml", "a: [\n")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe{")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from aether.cli.main import run; run()",
            "validate",
            str(garbage),
            str(binary),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    codes = [LINE.match(line)["code"] for line in proc.stderr.splitlines()]  # type: ignore[index]
    assert codes == ["E-DOC-PARSE", "E-DOC-PARSE", "E-DOC-READ"]
