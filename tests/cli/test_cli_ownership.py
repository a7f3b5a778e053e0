"""``aether get`` shows who acts on a running run: the engine holding its lease and the
worker of each running task (issue "Every execution owned, fenced and recorded")."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.claims import claim_as_worker
from support.cli import aether

from aether.events.assignment import TaskAssignment
from aether.runtime.setup import sqlite_engine

pytestmark = pytest.mark.spec("6.3", "15")


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


def test_a_submitted_run_waits_for_a_serve_and_says_so(tmp_path: Path) -> None:
    db = tmp_path / "aether.db"
    (tmp_path / "flow.yaml").write_text(APPROVAL)
    run_id = aether(db, "submit", str(tmp_path / "flow.yaml")).stdout.strip()
    shown = aether(db, "get", run_id, width=200)
    assert shown.exit_code == 0, shown.output
    assert "owner none: waiting for `aether serve`" in shown.stdout


def test_get_names_the_owner_and_the_worker_of_a_running_task(tmp_path: Path) -> None:
    db = tmp_path / "aether.db"
    engine = sqlite_engine(db, workers=0, member_id="engine-one")
    run_id = engine.submit(APPROVAL).run_id
    assignment = engine.broker.fetch("w", None, timeout=0)
    assert isinstance(assignment, TaskAssignment)
    assert claim_as_worker(engine, assignment, "engine-one-3")  # what its worker thread does first

    shown = aether(db, "get", run_id, width=200)
    assert shown.exit_code == 0, shown.output
    assert "owner engine-one (pid" in shown.stdout
    row = next(line for line in shown.stdout.splitlines() if "main/approve" in line)
    assert "engine-one-3" in row

    engine.stop()  # leaves: the run is orphaned until a serve takes it
    assert "owner none: waiting for `aether serve`" in aether(db, "get", run_id, width=200).stdout
