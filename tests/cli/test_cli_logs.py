"""``aether logs`` and the task output of ``aether run`` (SPEC §14.3 captured streams,
§14.1 worker rules): every attempt's lines, stderr told apart, JSON lines, following a run
to its end, and the failing task's last lines when a run fails."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path

import pytest
from support.cli import aether
from support.commands import aether_command
from support.documents import dag, dag_task, executor, shell_task, workflow
from typer.testing import CliRunner

from aether.cli.main import app
from aether.runtime.setup import postgres_engine, sqlite_engine

pytestmark = pytest.mark.spec("14.3", "14.1")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

RETRIES = """
apiVersion: aether/v1
kind: Workflow
metadata: {name: flaky}
spec:
  entrypoint: main
  templates:
    - dag:
        name: main
        tasks:
          - name: flaky
            retry: {limit: 1, expression: "true"}
            executor:
              type: shell
              config: {command: 'echo "try $AETHER_ATTEMPT"; echo "oops $AETHER_ATTEMPT" >&2; exit 1'}
          - name: quiet
            executor: {type: echo}
"""

CHATTY_FAILURE = """
apiVersion: aether/v1
kind: Workflow
metadata: {name: chatty}
spec:
  entrypoint: main
  templates:
    - dag:
        name: main
        tasks:
          - name: chatty
            executor:
              type: shell
              config: {command: 'i=1; while [ $i -le 30 ]; do echo "line $i"; i=$((i+1)); done; exit 1'}
"""

BINARY = r"""
apiVersion: aether/v1
kind: Workflow
metadata: {name: binary}
spec:
  entrypoint: main
  templates:
    - dag:
        name: main
        tasks:
          - name: raw
            executor: {type: shell, config: {command: "printf 'caf\\351 \\377\\n'"}}
"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "aether.db"


def write(tmp_path: Path, text: str, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def only_run(db: Path) -> str:
    result = aether(db, "list", "--json")
    runs = json.loads(result.stdout)
    assert len(runs) == 1
    return str(runs[0]["runId"])


# --- aether run ------------------------------------------------------------------------------


def test_run_shows_each_tasks_output_prefixed_by_its_node(db: Path) -> None:
    result = aether(db, "run", str(EXAMPLES / "hello.yaml"))
    assert result.exit_code == 0, result.output
    assert "main/greet: hello, world\n" in result.stdout
    assert "main/celebrate: that was a long greeting\n" in result.stdout


def test_run_quiet_hides_the_tasks_output(db: Path) -> None:
    result = aether(db, "run", str(EXAMPLES / "hello.yaml"), "--quiet")
    assert result.exit_code == 0, result.output
    assert "hello, world" not in result.output
    run_id = only_run(db)
    assert aether(db, "logs", run_id, "main/greet").stdout.endswith("hello, world\n"), "kept all the same"


def test_a_failed_run_prints_the_last_lines_of_the_failing_task(tmp_path: Path, db: Path) -> None:
    result = aether(db, "run", str(write(tmp_path, CHATTY_FAILURE)), "--quiet")
    assert result.exit_code == 1
    assert "last 20 of 30 lines of main/chatty (attempt 1):\n" in result.stderr
    tail = result.stderr.split("last 20 of 30 lines of main/chatty (attempt 1):\n", 1)[1]
    assert tail.splitlines()[:20] == [f"line {i}" for i in range(11, 31)]
    assert "line 10\n" not in result.stderr


# --- aether logs -----------------------------------------------------------------------------


def test_logs_show_every_attempt_headed_with_stderr_marked(tmp_path: Path, db: Path) -> None:
    aether(db, "run", str(write(tmp_path, RETRIES)), "--quiet")
    run_id = only_run(db)
    result = aether(db, "logs", run_id)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    first, second = lines.index("==> main/flaky attempt 1 <=="), lines.index("==> main/flaky attempt 2 <==")
    assert sorted(lines[first + 1 : second]) == ["main/flaky: [stderr] oops 1", "main/flaky: try 1"]
    assert sorted(lines[second + 1 :]) == ["main/flaky#2: [stderr] oops 2", "main/flaky#2: try 2"]
    assert "main/quiet" not in result.stdout, "an echo task writes nothing"


def test_logs_of_one_node_and_one_attempt(tmp_path: Path, db: Path) -> None:
    aether(db, "run", str(write(tmp_path, RETRIES)), "--quiet")
    run_id = only_run(db)
    result = aether(db, "logs", run_id, "main/flaky", "--attempt", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "==> main/flaky attempt 2 <=="
    assert sorted(lines[1:]) == ["[stderr] oops 2", "try 2"]


def test_logs_as_json_lines(tmp_path: Path, db: Path) -> None:
    aether(db, "run", str(write(tmp_path, RETRIES)), "--quiet")
    run_id = only_run(db)
    result = aether(db, "logs", run_id, "--json")
    assert result.exit_code == 0, result.output
    found = [json.loads(line) for line in result.stdout.splitlines()]
    assert {tuple(sorted(line)) for line in found} == {("at", "attempt", "node", "runId", "stream", "text")}
    assert sorted((x["attempt"], x["stream"], x["text"]) for x in found) == [
        (1, "stderr", "oops 1"),
        (1, "stdout", "try 1"),
        (2, "stderr", "oops 2"),
        (2, "stdout", "try 2"),
    ]
    assert all(x["runId"] == run_id and x["node"] == "main/flaky" and x["at"].endswith("Z") for x in found)


def test_invalid_utf8_is_shown_with_replacement_characters_and_kept_in_json(tmp_path: Path, db: Path) -> None:
    aether(db, "run", str(write(tmp_path, BINARY)), "--quiet")
    run_id = only_run(db)
    assert aether(db, "logs", run_id, "main/raw").stdout.splitlines()[1] == "caf\ufffd \ufffd"
    (line,) = (json.loads(x) for x in aether(db, "logs", run_id, "--json").stdout.splitlines())
    assert line["text"] == "caf\ufffd \ufffd"
    assert base64.b64decode(line["base64"]) == b"caf\xe9 \xff"


def test_logs_of_an_unknown_run_fail(db: Path, tmp_path: Path) -> None:
    aether(db, "run", str(write(tmp_path, RETRIES)), "--quiet")
    result = aether(db, "logs", "no-such-run")
    assert result.exit_code == 2
    assert "no-such-run" in result.stderr


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, db: Path) -> str:
    """The --db of a test that runs on both databases."""
    if request.param == "sqlite":
        return str(db)
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_follow_prints_lines_as_they_come_and_ends_with_the_run(tmp_path: Path, database: str) -> None:
    go = tmp_path / "go"
    command = f'echo "before"; while [ ! -e "{go}" ]; do sleep 0.05; done; echo "after" >&2'
    engine = (
        postgres_engine(database, workers=1) if database.startswith("postgres") else sqlite_engine(database, workers=1)
    )
    engine.start()
    try:
        run_id = engine.submit(workflow("follow", dag("main", shell_task("wait", command)))).run_id
        follower = subprocess.Popen(
            [*aether_command(), "logs", run_id, "--follow", "--db", database],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert follower.stdout is not None
            assert follower.stdout.readline() == "==> main/wait attempt 1 <==\n"
            assert follower.stdout.readline() == "main/wait: before\n"
            assert follower.poll() is None, "the run goes on, and so does --follow"
            go.touch()
            rest, errors = follower.communicate(timeout=60)
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.wait()
        assert follower.returncode == 0, errors
        assert rest == "main/wait: [stderr] after\n"
        assert engine.get(run_id)["phase"] == "Succeeded"
    finally:
        engine.stop()


def test_run_and_logs_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    # A process of its own, as a user runs it: its engine listens to the database until it exits.
    run = subprocess.run(
        [*aether_command(), "run", str(write(tmp_path, RETRIES)), "--db", postgres_url],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert run.returncode == 1, run.stderr
    assert "main/flaky#2: try 2\n" in run.stdout
    assert "output of main/flaky (attempt 2):\n" in run.stderr
    run_id = next(line.split()[1] for line in run.stderr.splitlines() if line.startswith("run "))
    result = CliRunner().invoke(app, ["logs", run_id, "main/flaky", "--json", "--db", postgres_url])
    assert result.exit_code == 0, result.output
    found = sorted((x["attempt"], x["stream"], x["text"]) for x in map(json.loads, result.stdout.splitlines()))
    assert found == [(1, "stderr", "oops 1"), (1, "stdout", "try 1"), (2, "stderr", "oops 2"), (2, "stdout", "try 2")]


def test_follow_of_a_finished_run_prints_everything_and_ends(tmp_path: Path, db: Path) -> None:
    task = dag_task("say", executor=executor("shell", command="echo one; echo two"))
    aether(db, "run", str(write(tmp_path, json.dumps(workflow("done", dag("main", task))))), "--quiet")
    started = time.monotonic()
    result = aether(db, "logs", only_run(db), "--follow")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == ["main/say: one", "main/say: two"]
    assert time.monotonic() - started < 10
