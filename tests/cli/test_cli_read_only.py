"""The reading commands work on a database on a read-only filesystem; a writing command
names the problem in one line, without a traceback.

Only a read-only mount stops root from writing (file modes do not), and only root can
mount one: these tests run when the suite runs as root, as it does in CI (``.ci/run``
runs in a root container). The read-only mode itself is tested without root in
``tests/store/test_read_only_open.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.commands import aether_command

from aether.cli.store_faults import EXIT_STORE_FAULT

pytestmark = [
    pytest.mark.spec("15"),
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only filesystem needs root"),
]

AETHER = aether_command()
WORKFLOW = """
apiVersion: aether/v1
kind: Workflow
metadata: {name: readonly}
spec:
  entrypoint: main
  templates:
    - dag:
        name: main
        tasks:
          - name: first
            executor: {type: echo, config: {message: one}}
          - name: second
            dependencies: [first]
            executor: {type: echo, config: {message: two}}
"""
WORKFLOW_TEMPLATE = """
apiVersion: aether/v1
kind: WorkflowTemplate
metadata: {name: shared}
spec:
  templates:
    - dag:
        name: hello
        tasks:
          - name: greet
            executor: {type: echo}
"""
CRON = """
apiVersion: aether/v1
kind: CronWorkflow
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  workflowSpec:
    entrypoint: main
    templates:
      - dag:
          name: main
          tasks:
            - name: greet
              executor: {type: echo}
"""


def aether(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AETHER, *args], capture_output=True, text=True, timeout=90)


@pytest.fixture(scope="module")
def read_only_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A database with one finished run, a template and a cron, on a filesystem remounted
    read-only (its directory and file cannot be written, even by root)."""
    tmp_path = tmp_path_factory.mktemp("read-only")
    mount = tmp_path / "mnt"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mount)], check=True)
    try:
        db = mount / "aether.db"
        for name, text in (("wf.yaml", WORKFLOW), ("template.yaml", WORKFLOW_TEMPLATE), ("cron.yaml", CRON)):
            (tmp_path / name).write_text(text)
        for args in (
            ("run", str(tmp_path / "wf.yaml")),
            ("template", "apply", str(tmp_path / "template.yaml")),
            ("cron", "create", str(tmp_path / "cron.yaml")),
        ):
            done = aether(*args, "--db", str(db))
            assert done.returncode == 0, done.stderr
        listed = aether("list", "--json", "--db", str(db))
        run_id = str(json.loads(listed.stdout)[0]["runId"])
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        assert not os.access(db, os.W_OK) and not os.access(mount, os.W_OK)
        yield db, run_id
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize(
    "command",
    [
        ("list",),
        ("get", "{run}"),
        ("get", "{run}", "--json"),
        ("history", "{run}"),
        ("history", "{run}", "--phases-only"),
        ("replay", "{run}", "--at", "2"),
        ("replay", "{run}", "--verify"),
        ("replay", "{run}", "--diff", "1", "3"),
        ("export", "{run}"),
        ("projections", "status"),
        ("cron", "list"),
        ("cron", "get", "nightly"),
        ("template", "list"),
        ("template", "get", "shared"),
    ],
    ids=" ".join,
)
def test_a_reading_command_works_on_a_read_only_filesystem(
    read_only_db: tuple[Path, str], command: tuple[str, ...]
) -> None:
    db, run_id = read_only_db
    done = aether(*(part.format(run=run_id) for part in command), "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.strip()


@pytest.mark.parametrize("command", [("cancel", "{run}"), ("projections", "rebuild")], ids=" ".join)
def test_a_writing_command_names_the_read_only_database(
    read_only_db: tuple[Path, str], command: tuple[str, ...]
) -> None:
    db, run_id = read_only_db
    done = aether(*(part.format(run=run_id) for part in command), "--db", str(db))
    assert done.returncode == EXIT_STORE_FAULT, done.stderr
    assert "Traceback" not in done.stderr
    assert "read-only" in done.stderr
