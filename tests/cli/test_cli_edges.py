"""What a new user meets first: the command found in an environment that is not activated,
shell completion, and the defaults ``aether get`` shows (the workflow deadline, SPEC §10.1)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import aether
from support.commands import aether_command
from typer.testing import CliRunner

from aether.cli.main import app
from aether.events.times import format_ms, parse_ms

pytestmark = pytest.mark.spec("2.10", "10.1")


AWAITING = """
apiVersion: aether/v1
kind: Workflow
metadata: {name: approval}
spec:
  entrypoint: main
  TIMEOUT
  templates:
    - dag:
        name: main
        tasks:
          - {name: approve, executor: {type: await, config: {message: "ship it?"}}}
"""


def submitted(tmp_path: Path, timeout: str | None) -> tuple[Path, str]:
    flow = tmp_path / "flow.yaml"
    flow.write_text(AWAITING.replace("TIMEOUT", "" if timeout is None else f"timeout: {timeout!r}"))
    db = tmp_path / "aether.db"
    result = aether(db, "submit", str(flow))
    assert result.exit_code == 0, result.stderr
    return db, result.stdout.strip()


def test_python_dash_m_aether_is_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aether", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("aether ")


@pytest.mark.spec("2.10")
def test_shell_completion_is_offered_and_completes_commands() -> None:
    help_text = CliRunner().invoke(app, ["--help"]).stdout
    assert "--install-completion" in help_text and "--show-completion" in help_text
    env = {**os.environ, "_AETHER_COMPLETE": "complete_bash", "COMP_WORDS": "aether repl", "COMP_CWORD": "1"}
    done = subprocess.run(aether_command(), env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["replay"]


def test_get_prints_the_default_one_hour_deadline(tmp_path: Path) -> None:
    db, run_id = submitted(tmp_path, None)
    shown = aether(db, "get", run_id)
    assert shown.exit_code == 0, shown.stderr
    created = next(line for line in shown.stdout.splitlines() if line.startswith("created "))
    due = format_ms(parse_ms(created.split()[1]) + 3_600_000)
    assert f"deadline {due} (spec.timeout 1h, counted from submit)" in shown.stdout


def test_get_says_a_run_without_a_deadline_has_none(tmp_path: Path) -> None:
    """``timeout: 0s`` is how a run that waits on people (an await task) asks not to be cut."""
    db, run_id = submitted(tmp_path, "0s")
    shown = aether(db, "get", run_id)
    assert shown.exit_code == 0, shown.stderr
    assert "deadline none (spec.timeout 0s)" in shown.stdout


# --- projections status notices damage, not only lag ---------------------------------------

HELLO = """
apiVersion: aether/v1
kind: Workflow
metadata: {name: hello}
spec:
  entrypoint: main
  templates:
    - dag:
        name: main
        tasks:
          - {name: a, executor: {type: echo}}
          - {name: b, dependencies: [a], executor: {type: echo}}
"""


@pytest.fixture
def two_runs(tmp_path: Path) -> Path:
    flow = tmp_path / "hello.yaml"
    flow.write_text(HELLO)
    db = tmp_path / "aether.db"
    for _ in range(2):
        result = aether(db, "run", str(flow))
        assert result.exit_code == 0, result.stderr
    return db


def _damage(db: Path, sql: str) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute(sql).rowcount == 1


@pytest.mark.spec("6.6")
def test_projections_status_of_healthy_read_models_exits_0(two_runs: Path) -> None:
    status = aether(two_runs, "projections", "status")
    assert (status.exit_code, status.stderr) == (0, "")
    assert status.stdout.endswith(", 0 events behind the log\n")


@pytest.mark.spec("6.6")
@pytest.mark.parametrize(
    ("sql", "finding"),
    [
        ("DELETE FROM tasks WHERE rowid = (SELECT MIN(rowid) FROM tasks)", "damaged: tasks: 5 rows for the 6 nodes"),
        ("DELETE FROM runs WHERE rowid = (SELECT MIN(rowid) FROM runs)", "damaged: runs: 1 rows for the 2 runs"),
        (
            "UPDATE runs SET last_version = last_version - 3 WHERE rowid = (SELECT MIN(rowid) FROM runs)",
            "damaged: runs: 1 rows do not reflect their run's last event",
        ),
    ],
)
def test_projections_status_names_a_damaged_table_until_rebuilt(two_runs: Path, sql: str, finding: str) -> None:
    _damage(two_runs, sql)
    status = aether(two_runs, "projections", "status")
    assert status.exit_code == 1
    assert finding in status.stderr and "aether projections rebuild" in status.stderr
    assert aether(two_runs, "projections", "rebuild").exit_code == 0
    healed = aether(two_runs, "projections", "status")
    assert (healed.exit_code, healed.stderr) == (0, "")


# --- delete and prune: the listings forget a run, the log does not ---------------------------


def _listed(db: Path) -> list[str]:
    result = aether(db, "list", "--json")
    assert result.exit_code == 0, result.stderr
    return [run["runId"] for run in json.loads(result.stdout)]


def _pruned_facts(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT stream, type, data FROM events WHERE stream LIKE 'pruned:%' ORDER BY position"
        ).fetchall()


@pytest.mark.spec("12.4")
def test_delete_removes_a_finished_run_from_the_listings_and_keeps_its_history(two_runs: Path) -> None:
    first, second = _listed(two_runs)
    events_before = aether(two_runs, "history", first, "--json").stdout
    deleted = aether(two_runs, "delete", first)
    assert deleted.exit_code == 0, deleted.stderr
    assert deleted.stdout == f"deleted {first} (Succeeded)\n"
    assert _listed(two_runs) == [second]
    assert [(s, t, json.loads(d)) for s, t, d in _pruned_facts(two_runs)] == [
        (f"pruned:{first}", "RunPruned", {"runId": first, "phase": "Succeeded"})
    ]
    assert aether(two_runs, "history", first, "--json").stdout == events_before
    assert aether(two_runs, "replay", first, "--verify").exit_code == 0
    shown = aether(two_runs, "get", first)
    assert shown.exit_code == 0 and f"note: run {first} was deleted from the listings" in shown.stderr
    assert aether(two_runs, "projections", "rebuild").exit_code == 0
    assert _listed(two_runs) == [second]  # the fact is in the log: a rebuild keeps it deleted
    again = aether(two_runs, "delete", first)
    assert again.exit_code == 2 and "deleted already" in again.stderr


@pytest.mark.spec("12.4")
def test_delete_refuses_an_unfinished_or_unknown_run(tmp_path: Path) -> None:
    db, waiting = submitted(tmp_path, None)
    refused = aether(db, "delete", waiting)
    assert refused.exit_code == 2 and "cancel it first" in refused.stderr
    assert aether(db, "delete", "no-such-run").exit_code == 2
    assert _listed(db) == [waiting] and _pruned_facts(db) == []


@pytest.mark.spec("12.4")
def test_prune_before_a_time_deletes_the_runs_finished_before_it(two_runs: Path) -> None:
    first, second = _listed(two_runs)
    finished = {
        run_id: json.loads(aether(two_runs, "get", run_id, "--json").stdout)["finishedAt"] for run_id in (first, second)
    }
    between = format_ms(parse_ms(finished[first]) + 1)
    assert parse_ms(finished[second]) >= parse_ms(between), "the second run finished after the first"
    pruned = aether(two_runs, "prune", "--before", between)
    assert pruned.exit_code == 0, pruned.stderr
    assert pruned.stdout == f"{first}\n"
    assert pruned.stderr == f"pruned 1 run(s) that finished before {between}\n"
    assert _listed(two_runs) == [second]
    assert aether(two_runs, "prune", "--before", "yesterday").exit_code == 2
