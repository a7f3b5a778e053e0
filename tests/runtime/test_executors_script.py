"""The script executor (SPEC §14.3): ``source`` in a temporary file, run by ``runtime``."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from process_watch import alive, wait_for
from support.assignments import make_assignment

from aether.events.assignment import TaskAssignment
from aether.events.values import BoundParameter
from aether.runtime.executors.base import ExecContext, ExecResult
from aether.runtime.executors.script import ScriptExecutor

pytestmark = pytest.mark.spec("14.3")

GRACE = 0.5
WAIT = 20.0
PYTHON = sys.executable


def assignment(config: dict[str, Any], *inputs: BoundParameter) -> TaskAssignment:
    return make_assignment("script", config, *inputs)


def run(
    config: dict[str, Any],
    *inputs: BoundParameter,
    cancelled: Callable[[], bool] = lambda: False,
    deadline: datetime | None = None,
) -> ExecResult:
    ctx = ExecContext(cancelled=cancelled, deadline=deadline, now=lambda: datetime.now(UTC))
    return ScriptExecutor(grace_seconds=GRACE).execute(assignment(config, *inputs), ctx)


def outputs(result: ExecResult) -> dict[str, Any]:
    return {p.name: p.value for p in result.parameters}


def test_python_script_with_inputs_and_outputs_file() -> None:
    source = "\n".join(
        [
            "import json, os, sys",
            "n = json.loads(os.environ['AETHER_INPUT_N'])",
            "print('sum', n + 1)",
            "print('warn', file=sys.stderr)",
            "with open(os.environ['AETHER_OUTPUTS'], 'w') as f:",
            "    json.dump({'double': n * 2}, f)",
        ]
    )
    result = run({"runtime": PYTHON, "source": source}, BoundParameter("n", 20, True))
    assert result.code == 0
    assert outputs(result) == {"stdout": "sum 21", "stderr": "warn\n", "exitCode": 0, "double": 40}


def test_runtime_with_flags_and_shell_exit_status() -> None:
    result = run({"runtime": "sh -e", "source": "echo before\nfalse\necho never\n"})
    assert result.code == 2
    assert result.message.startswith("exit status 1")
    assert outputs(result)["stdout"] == "before"


def test_script_file_is_removed_afterwards() -> None:
    result = run({"runtime": "sh", "source": 'printf "%s" "$0"'})
    path = outputs(result)["stdout"]
    assert path.endswith("script")
    assert not os.path.exists(path)


def test_unknown_runtime_is_code_3() -> None:
    result = run({"runtime": "aether-no-such-runtime", "source": "x"})
    assert result.code == 3


@pytest.mark.parametrize(
    "config",
    [{"source": "x"}, {"runtime": "sh"}, {"runtime": "", "source": "x"}, {"runtime": "sh", "source": 1}],
)
def test_bad_config_is_code_3(config: dict[str, Any]) -> None:
    assert run(config).code == 3


def test_cancel_kills_the_script(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    source = f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(30)\n"
    cancel = threading.Event()
    box: list[ExecResult] = []
    thread = threading.Thread(
        target=lambda: box.append(run({"runtime": PYTHON, "source": source}, cancelled=cancel.is_set))
    )
    thread.start()
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text() != "")
    pid = int(pidfile.read_text())
    cancel.set()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert box[0].code == 3
    assert wait_for(lambda: not alive(pid), 5.0)


def test_deadline_is_code_4(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run({"runtime": "sh", "source": "sleep 30"}, deadline=datetime.now(UTC) + timedelta(seconds=1))
    assert result.code == 4
    assert time.monotonic() - started < 15


def test_validate_config() -> None:
    executor = ScriptExecutor()
    assert executor.validate_config({"runtime": "bash", "source": "echo"}) == []
    messages = [p.message for p in executor.validate_config({"runtime": 3, "env": "x"})]
    assert messages == [
        'script: "runtime" must be a string',
        'script: "source" is required',
        'script: "env" must be an object of strings',
    ]
    assert [p.message for p in executor.validate_config({"runtime": " ", "source": ""})] == [
        'script: "runtime" must not be empty'
    ]
