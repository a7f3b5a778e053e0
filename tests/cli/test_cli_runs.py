"""The run commands as a user meets them: ``run``, ``submit``, ``serve``, ``get``, ``list``,
``resume``, ``cancel``, ``history`` and ``projections`` (issue 5 and 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import aether

pytestmark = pytest.mark.spec("6.1", "6.6", "11.2", "11.3")


HELLO = """
apiVersion: aether/v1
kind: Workflow
metadata: {name: hello}
spec:
  entrypoint: main
  arguments: {parameters: [{name: who, value: world}]}
  templates:
    - dag:
        name: main
        tasks:
          - name: greet
            inputs: {parameters: [{name: who, valueFrom: {parameter: workflow.parameters.who}}]}
            executor: {type: shell, config: {command: 'echo "hello, $AETHER_INPUT_WHO"'}}
          - name: fail
            when: "workflow.parameters.who == 'nobody'"
            executor: {type: shell, config: {command: "exit 3"}}
"""

APPROVAL = """
apiVersion: aether/v1
kind: Workflow
metadata: {name: approval}
spec:
  entrypoint: main
  templates:
    - dag:
        name: main
        tasks:
          - {name: approve, executor: {type: await, config: {message: "ship it?"}}}
"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "aether.db"


def write(tmp_path: Path, text: str, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_run_succeeds_with_arguments_and_prints_the_run_view(tmp_path: Path, db: Path) -> None:
    result = aether(db, "run", str(write(tmp_path, HELLO)), "-p", "who=Ada", "--json")
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    tasks = {t["id"]: t for t in view["tasks"]}
    assert view["phase"] == "Succeeded"
    assert tasks["main/greet"]["outputs"]["stdout"] == "hello, Ada"
    assert tasks["main/fail"]["phase"] == "Skipped"
    assert set(view) >= {"runId", "name", "phase", "message", "outputs", "tasks"}
    assert set(tasks["main/greet"]) >= {
        "id",
        "taskName",
        "templateName",
        "templateType",
        "phase",
        "message",
        "depth",
        "retryCount",
        "inputs",
        "outputs",
        "startedAt",
        "finishedAt",
    }


def test_run_exits_1_when_the_run_does_not_succeed(tmp_path: Path, db: Path) -> None:
    result = aether(db, "run", str(write(tmp_path, HELLO)), "-p", "who=nobody")
    assert result.exit_code == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["missing.yaml"], "E-DOC-READ"),
        (["bad.yaml"], "E-ENTRYPOINT-UNKNOWN"),
        (["unknown-executor.yaml"], "W-EXECUTOR-UNKNOWN"),
        (["hello.yaml", "-p", "novalue"], "must look like NAME=VALUE"),
        (["hello.yaml", "-p", "nope=1"], "E-SUBMIT-ARG-UNKNOWN"),
        (["hello.yaml", "--timeout", "soon"], "is not a duration"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path, db: Path, args: list[str], says: str) -> None:
    write(tmp_path, HELLO, "hello.yaml")
    write(tmp_path, HELLO.replace("entrypoint: main", "entrypoint: nowhere"), "bad.yaml")
    write(tmp_path, HELLO.replace("type: shell", "type: kubernetes"), "unknown-executor.yaml")
    result = aether(db, "run", *[str(tmp_path / a) if a.endswith(".yaml") else a for a in args])
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert "Traceback" not in result.output
    assert not db.exists(), "bad input must not create or write the database"


def test_run_gives_up_waiting_after_its_timeout(tmp_path: Path, db: Path) -> None:
    result = aether(db, "run", str(write(tmp_path, APPROVAL)), "--timeout", "300ms")
    assert result.exit_code == 1
    assert "did not finish within 300ms" in result.output


def test_submit_serve_resume_cancel_and_the_audit_trail(tmp_path: Path, db: Path) -> None:
    flow = write(tmp_path, APPROVAL)
    run_id = aether(db, "submit", str(flow)).stdout.strip()
    assert aether(db, "serve", "--until-idle").exit_code == 0  # it waits for approval: stays active?
    view = json.loads(aether(db, "get", run_id, "--json").stdout)
    assert {t["id"]: t["phase"] for t in view["tasks"]}["main/approve"] == "Suspended"

    refused = aether(db, "resume", run_id, "main")
    assert refused.exit_code == 2 and "E-RESUME-NOT-SUSPENDED" in refused.output
    assert aether(db, "resume", run_id, "main/approve", "--payload", "[1]").exit_code == 2
    assert aether(db, "resume", run_id, "main/approve", "--payload", '{"ok": true}').exit_code == 0
    assert aether(db, "serve", "--until-idle").exit_code == 0
    done = json.loads(aether(db, "get", run_id, "--json").stdout)
    assert done["phase"] == "Succeeded"
    assert {t["id"]: t for t in done["tasks"]}["main/approve"]["outputs"] == {"ok": True}

    other = aether(db, "submit", str(flow)).stdout.strip()
    assert aether(db, "cancel", other).exit_code == 0
    again = aether(db, "cancel", other)
    assert again.exit_code == 2 and "E-RUN-TERMINAL" in again.output
    assert aether(db, "get", "nope").exit_code == 2

    listed = json.loads(aether(db, "list", "--json").stdout)
    assert [(r["runId"], r["phase"]) for r in listed] == [(run_id, "Succeeded"), (other, "Cancelled")]

    trail = aether(db, "history", run_id, "--phases-only", "--node", "main/approve").stdout.splitlines()
    assert [line.split(": ", 1)[1] for line in trail] == [
        "- -> Created",
        "Created -> Ready",
        "Ready -> Running",
        "Running -> Suspended  (ship it?)",
        "Suspended -> Ready",
        "Ready -> Running",
        "Running -> Succeeded",
    ]
    records = [json.loads(line) for line in aether(db, "history", run_id, "--json").stdout.splitlines()]
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert records[0]["type"] == "WorkflowSubmitted"

    status = aether(db, "projections", "status")
    assert status.exit_code == 0 and "0 events behind" in status.stdout
    assert "rebuilt the read models" in aether(db, "projections", "rebuild").stdout


MARKER = """
apiVersion: aether/v1
kind: Workflow
metadata: {name: marker}
spec:
  entrypoint: main
  templates:
    - dag:
        name: main
        tasks:
          - name: touch
            executor: {type: shell, config: {command: 'echo "$AETHER_RUN_ID" >> "$AETHER_INPUT_LOG"'}}
            inputs: {parameters: [{name: log, value: "%s"}]}
"""


def test_run_runs_only_the_file_it_was_given(tmp_path: Path, db: Path) -> None:
    executions = tmp_path / "executions.txt"
    flow = write(tmp_path, MARKER % executions)
    waiting = aether(db, "submit", str(flow)).stdout.strip()
    before = [r.event for r in _history(db, waiting)]

    ran = aether(db, "run", str(flow), "--json")
    assert ran.exit_code == 0, ran.output
    own = json.loads(ran.stdout)["runId"]
    assert executions.read_text().split() == [own], "only the run of this command executed"
    assert [r.event for r in _history(db, waiting)] == before, "the submitted run was left as it was"
    assert json.loads(aether(db, "get", waiting, "--json").stdout)["phase"] == "Ready"

    assert aether(db, "serve", "--until-idle").exit_code == 0  # a serve takes it up
    assert sorted(executions.read_text().split()) == sorted([own, waiting])
    assert json.loads(aether(db, "get", waiting, "--json").stdout)["phase"] == "Succeeded"


class _Recorded:
    def __init__(self, record: dict[str, object]) -> None:
        self.event = (record["seq"], record["type"])


def _history(db: Path, run_id: str) -> list[_Recorded]:
    return [_Recorded(json.loads(line)) for line in aether(db, "history", run_id, "--json").stdout.splitlines()]
