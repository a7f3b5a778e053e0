"""Secrets through the command line (issue 14): ``aether run --secrets FILE`` and
``AETHER_SECRET_<NAME>_<KEY>`` resolve ``secretKeyRef`` inputs, and no secret value reaches the
database, an export, a view or the history, nor a task's command line (SPEC §4.3, §14.1, §15)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

pytestmark = pytest.mark.spec("4.3", "4.7", "14.1", "14.3", "15")

FILE_SECRET = "Pa55word-from-file-7731"  # db-main/password, from the --secrets file
ENV_SECRET = "tok3n-from-env-99182"  # api/token, from AETHER_SECRET_API_TOKEN
SECRETS = (FILE_SECRET, ENV_SECRET)
WAIT = 60.0

SECRET_INPUTS = """
            inputs:
              parameters:
                - {name: password, valueFrom: {secretKeyRef: {name: db-main, key: password}}}
                - {name: token, valueFrom: {secretKeyRef: {name: api, key: token}}}"""

WORKFLOW = f"""
apiVersion: aether/v1
kind: Workflow
metadata: {{name: uses-secrets}}
spec:
  entrypoint: main
  templates:
    - dag:
        name: main
        tasks:
          - name: prints
{SECRET_INPUTS}
            executor:
              type: shell
              config:
                env: {{PW_COPY: "{{{{inputs.parameters.password}}}}"}}
                command: |
                  echo "password=$AETHER_INPUT_PASSWORD token=$AETHER_INPUT_TOKEN"
                  echo "$PW_COPY" >&2
                  printf '{{"copy": "%s", "nested": {{"k": ["%s"]}}}}' "$AETHER_INPUT_PASSWORD" "$AETHER_INPUT_TOKEN" \\
                    > "$AETHER_OUTPUTS"
          - name: names-an-output
{SECRET_INPUTS}
            executor:
              type: shell
              config:
                command: >-
                  printf '{{"%s": 1, "%s-x": 2, "kept": 3}}' "$AETHER_INPUT_PASSWORD" "$AETHER_INPUT_TOKEN"
                  > "$AETHER_OUTPUTS"
          - name: in-the-command
{SECRET_INPUTS}
            executor: {{type: shell, config: {{command: "echo {{{{inputs.parameters.password}}}}"}}}}
          - name: fails
{SECRET_INPUTS}
            executor: {{type: shell, config: {{command: 'echo "$AETHER_INPUT_TOKEN" >&2; exit 3'}}}}
          - name: downstream
            dependencies: [prints]
            inputs:
              parameters:
                - {{name: copy, valueFrom: {{parameter: tasks.prints.outputs.parameters.copy}}}}
            executor: {{type: shell, config: {{command: 'echo "got $AETHER_INPUT_COPY"'}}}}
"""


def aether(db: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aether", *args, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=WAIT * 2,
        env={**os.environ, **(env or {})},
    )


def secrets_file(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.yaml"
    path.write_text(f'db-main: {{password: "{FILE_SECRET}"}}\n', encoding="utf-8")
    return path


def database_texts(db: Path) -> list[str]:
    """Every value of every row of every table, decoded: text as is, blobs as UTF-8, and
    zlib-compressed blobs (view-history pages) decompressed too."""
    texts: list[str] = []
    with sqlite3.connect(db) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert "events" in tables
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    texts.append(_decoded(value))
    return texts


def _decoded(value: object) -> str:
    if not isinstance(value, bytes):
        return str(value)
    texts = [value.decode("utf-8", errors="replace")]
    with contextlib.suppress(zlib.error):
        texts.append(zlib.decompress(value).decode("utf-8", errors="replace"))
    return "\n".join(texts)


def assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a secret value is in {where}"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, subprocess.CompletedProcess[str]]:
    tmp_path = tmp_path_factory.mktemp("secrets")
    flow = tmp_path / "flow.yaml"
    flow.write_text(WORKFLOW, encoding="utf-8")
    db = tmp_path / "aether.db"
    env = {"AETHER_SECRET_API_TOKEN": ENV_SECRET}
    result = aether(db, "run", str(flow), "--json", "--secrets", str(secrets_file(tmp_path)), env=env)
    view = json.loads(result.stdout)
    return db, view["runId"], result


def test_the_run_resolves_secrets_from_the_file_and_the_environment(
    finished_run: tuple[Path, str, subprocess.CompletedProcess[str]],
) -> None:
    db, run_id, result = finished_run
    assert result.returncode == 1, result.stderr  # some tasks are refused on purpose
    view = json.loads(aether(db, "get", run_id, "--json").stdout)
    tasks = {task["taskName"]: task for task in view["tasks"]}
    assert tasks["prints"]["phase"] == "Succeeded"
    outputs = tasks["prints"]["outputs"]
    assert outputs["stdout"] == "<redacted>"
    assert outputs["stderr"] == "<redacted>"
    assert outputs["copy"] == "<redacted>"
    assert outputs["nested"] == "<redacted>"
    assert tasks["downstream"]["outputs"]["stdout"] == "got <redacted>"


def test_an_output_named_by_a_secret_is_refused(
    finished_run: tuple[Path, str, subprocess.CompletedProcess[str]],
) -> None:
    db, run_id, _ = finished_run
    view = json.loads(aether(db, "get", run_id, "--json").stdout)
    task = next(t for t in view["tasks"] if t["taskName"] == "names-an-output")
    assert task["phase"] == "Error"
    assert task["message"].startswith("2 output name(s) contain a secret value; they were dropped")
    assert task["outputs"]["kept"] == 3


def test_a_secret_placeholder_in_a_command_is_refused(
    finished_run: tuple[Path, str, subprocess.CompletedProcess[str]],
) -> None:
    db, run_id, _ = finished_run
    view = json.loads(aether(db, "get", run_id, "--json").stdout)
    task = next(t for t in view["tasks"] if t["taskName"] == "in-the-command")
    assert task["phase"] == "Error"
    assert "{{inputs.parameters.password}} would put the secret input" in task["message"]
    assert "read $AETHER_INPUT_PASSWORD instead" in task["message"]


def test_no_table_of_the_database_holds_a_secret(
    finished_run: tuple[Path, str, subprocess.CompletedProcess[str]],
) -> None:
    db, _, _ = finished_run
    texts = database_texts(db)
    joined = "\n".join(texts)
    # The scan sees what the run recorded: the references, and the redactions.
    assert "db-main" in joined and "<redacted>" in joined
    for i, text in enumerate(texts):
        assert_no_secret(f"database value #{i}", text)
    for path in db.parent.glob(db.name + "*"):
        assert_no_secret(path.name, path.read_bytes().decode("utf-8", errors="replace"))


@pytest.mark.parametrize(
    "command",
    [("export",), ("get", "--json"), ("get",), ("history",), ("history", "--json"), ("list",)],
    ids=" ".join,
)
def test_no_command_prints_a_secret(
    finished_run: tuple[Path, str, subprocess.CompletedProcess[str]], command: tuple[str, ...]
) -> None:
    db, run_id, run_result = finished_run
    assert_no_secret("aether run's output", run_result.stdout + run_result.stderr)
    args = (command[0], *command[1:]) if command[0] == "list" else (command[0], run_id, *command[1:])
    result = aether(db, *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout
    assert_no_secret(f"aether {' '.join(command)}", result.stdout + result.stderr)


def test_a_missing_secret_names_both_places_it_was_looked_for(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(WORKFLOW, encoding="utf-8")
    (tmp_path / "empty.json").write_text("{}", encoding="utf-8")
    result = aether(tmp_path / "a.db", "run", str(flow), "--json", "--secrets", str(tmp_path / "empty.json"))
    task = next(t for t in json.loads(result.stdout)["tasks"] if t["taskName"] == "prints")
    assert task["phase"] == "Error"
    assert task["message"] == (
        'secret "db-main/password": no such secret; environment variable AETHER_SECRET_DB_MAIN_PASSWORD is not set'
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("db: [1, 2]\n", 'secret "db" must be an object of key: value'),
        ("db: {pin: 1234}\n", '"db/pin" must be a string, not int'),
        ("- a\n", "document must be an object"),
        ("{", "invalid YAML"),
    ],
)
def test_a_bad_secrets_file_is_refused_before_anything_runs(tmp_path: Path, content: str, message: str) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(WORKFLOW, encoding="utf-8")
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(content, encoding="utf-8")
    db = tmp_path / "a.db"
    result = aether(db, "run", str(flow), "--secrets", str(secrets))
    assert result.returncode == 2
    assert message in result.stderr
    assert "1234" not in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_takes_secrets_too(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(WORKFLOW, encoding="utf-8")
    db = tmp_path / "aether.db"
    run_id = aether(db, "submit", str(flow)).stdout.strip()
    served = aether(
        db,
        "serve",
        "--until-idle",
        "--secrets",
        str(secrets_file(tmp_path)),
        env={"AETHER_SECRET_API_TOKEN": ENV_SECRET},
    )
    assert served.returncode == 0, served.stderr
    view = json.loads(aether(db, "get", run_id, "--json").stdout)
    assert next(t for t in view["tasks"] if t["taskName"] == "prints")["phase"] == "Succeeded"


# --- the command line of a running task -----------------------------------------------

WAITING = """
apiVersion: aether/v1
kind: Workflow
metadata: {name: waits}
spec:
  entrypoint: main
  templates:
    - dag:
        name: main
        tasks:
          - name: waits
            inputs:
              parameters:
                - {name: password, valueFrom: {secretKeyRef: {name: db-main, key: password}}}
                - {name: dir, value: "@TMP@"}
            executor:
              type: shell
              config:
                env: {COPY: "{{inputs.parameters.password}}"}
                command: |
                  test -n "$AETHER_INPUT_PASSWORD" && touch "$AETHER_INPUT_DIR/started"
                  i=0
                  while [ ! -e "$AETHER_INPUT_DIR/release" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
"""


def command_lines() -> dict[int, str]:
    lines: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines[int(entry.name)] = (entry / "cmdline").read_bytes().decode("utf-8", errors="replace")
            except OSError:
                continue  # the process ended meanwhile
    return lines


def test_a_running_task_has_no_secret_on_its_command_line(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(WAITING.replace("@TMP@", str(tmp_path)), encoding="utf-8")
    command = [sys.executable, "-m", "aether", "run", str(flow), "--json", "--db", str(tmp_path / "a.db")]
    command += ["--secrets", str(secrets_file(tmp_path))]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        give_up = time.monotonic() + WAIT
        while not (tmp_path / "started").exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < give_up, "the task did not start"
            time.sleep(0.05)
        lines = command_lines()
        # The scan sees the task's own command line: the shell running the command's text.
        assert any("AETHER_INPUT_DIR/release" in line for line in lines.values())
        for pid, line in lines.items():
            assert FILE_SECRET not in line, f"process {pid} has the secret on its command line: {line!r}"
    finally:
        (tmp_path / "release").touch()
        out, err = process.communicate(timeout=WAIT)
    assert process.returncode == 0, err
    assert json.loads(out)["phase"] == "Succeeded"
