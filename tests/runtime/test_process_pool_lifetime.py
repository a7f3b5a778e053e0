"""Executors run in a pool of child processes (``process_types``) die with the worker
process that owns the pool, as task processes do (ARCHITECTURE rule 6)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from process_watch import alive, read_pid, wait_for

pytestmark = pytest.mark.spec("14.3")

# A worker process: an engine whose "sleepy" executor runs in its process pool, writes
# the pool process's pid and then works for a minute.
OWNER = textwrap.dedent(
    """
    import os, sys, time
    from aether.events.assignment import TaskAssignment
    from aether.runtime.engine import Engine
    from aether.runtime.executors.base import ExecResult

    PIDFILE = sys.argv[1]

    class Sleepy:
        type = "sleepy"

        def validate_config(self, config):
            return []

        def execute(self, request, ctx):
            with open(PIDFILE, "w") as out:
                out.write(str(os.getpid()))
            time.sleep(60)
            return ExecResult()

    engine = Engine(executors={"sleepy": Sleepy()}, workers=1, process_types=["sleepy"], processes=1)
    engine.start()
    engine.submit({
        "apiVersion": "aether/v1", "kind": "Workflow", "metadata": {"name": "sleepy"},
        "spec": {"entrypoint": "main", "templates": [
            {"dag": {"name": "main", "tasks": [{"name": "nap", "executor": {"type": "sleepy"}}]}}
        ]},
    })
    time.sleep(120)
    """
)


@pytest.mark.timeout(60)
def test_a_pool_process_dies_when_its_owner_is_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = tmp_path / "owner.py"
    script.write_text(OWNER)
    owner = subprocess.Popen([sys.executable, str(script), str(pidfile)], cwd=tmp_path)
    try:
        pool_pid = read_pid(pidfile)
        assert pool_pid != owner.pid and alive(pool_pid)
        os.kill(owner.pid, signal.SIGKILL)  # the owner only, not its process group
        owner.wait(10)
        assert wait_for(lambda: not alive(pool_pid), 5.0), "the pool process outlived its owner"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(10)
