"""The shell executor and the shared child-process rules (SPEC §14.3)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from process_watch import alive, read_pid, wait_for
from support.assignments import make_assignment

from aether.events.assignment import TaskAssignment
from aether.events.values import BoundParameter
from aether.model.limits import DEFAULT_LIMITS
from aether.runtime.executors.base import ExecContext, ExecResult
from aether.runtime.executors.process import input_env, input_env_name
from aether.runtime.executors.shell import ShellExecutor

pytestmark = pytest.mark.spec("14.3")

GRACE = 0.5
# Generous bounds: a loaded 2-core CI machine can be slow to start and reap processes.
WAIT = 20.0


def assignment(config: dict[str, Any] | None, *inputs: BoundParameter) -> TaskAssignment:
    return make_assignment("shell", config, *inputs)


def context(cancelled: Callable[[], bool] = lambda: False, deadline: datetime | None = None) -> ExecContext:
    return ExecContext(cancelled=cancelled, deadline=deadline, now=lambda: datetime.now(UTC))


def run(config: dict[str, Any], *inputs: BoundParameter, ctx: ExecContext | None = None) -> ExecResult:
    return ShellExecutor(grace_seconds=GRACE).execute(assignment(config, *inputs), ctx or context())


def outputs(result: ExecResult) -> dict[str, Any]:
    return {p.name: p.value for p in result.parameters}


class Background:
    """Runs one execution on a thread so the test can cancel it while it runs."""

    def __init__(self, config: dict[str, Any], deadline: datetime | None = None) -> None:
        self.cancel = threading.Event()
        self.result: ExecResult | None = None
        ctx = context(self.cancel.is_set, deadline)
        self.thread = threading.Thread(target=lambda: setattr(self, "result", run(config, ctx=ctx)))
        self.started = time.monotonic()
        self.thread.start()

    def join(self) -> ExecResult:
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "execution did not stop"
        assert self.result is not None
        return self.result


# --- environment -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "env_name"),
    [("batch-size", "AETHER_INPUT_BATCH_SIZE"), ("x", "AETHER_INPUT_X"), ("a.b c9", "AETHER_INPUT_A_B_C9")],
)
def test_input_env_name(name: str, env_name: str) -> None:
    assert input_env_name(name) == env_name


def test_input_env_renders_strings_as_is_and_the_rest_as_compact_json() -> None:
    env = input_env(
        [
            BoundParameter("s", "text with spaces", True),
            BoundParameter("n", 5, True),
            BoundParameter("f", 2.5, True),
            BoundParameter("l", [1, "a", {"k": True}], True),
            BoundParameter("nul", None, True),
            BoundParameter("none", None, False),
        ]
    )
    assert env == {
        "AETHER_INPUT_S": "text with spaces",
        "AETHER_INPUT_N": "5",
        "AETHER_INPUT_F": "2.5",
        "AETHER_INPUT_L": '[1,"a",{"k":true}]',
        "AETHER_INPUT_NUL": "null",
    }


def test_inputs_reach_the_command_as_environment_variables() -> None:
    result = run(
        {
            "command": 'printf "%s|%s|%s" "$AETHER_INPUT_BATCH_SIZE" "$AETHER_INPUT_NAME" '
            '"${AETHER_INPUT_MISSING-unset}"'
        },
        BoundParameter("batch-size", 10, True),
        BoundParameter("name", "a b", True),
        BoundParameter("missing", None, False),
    )
    assert result.code == 0
    assert outputs(result)["stdout"] == "10|a b|unset"


def test_config_env_and_working_dir(tmp_path: Path) -> None:
    result = run(
        {
            "command": 'printf "%s %s" "$GREETING" "$(pwd)"',
            "env": {"GREETING": "hi"},
            "workingDir": str(tmp_path),
        }
    )
    assert outputs(result)["stdout"] == f"hi {tmp_path}"


def test_inputs_win_over_config_env() -> None:
    result = run(
        {"command": 'printf "%s" "$AETHER_INPUT_X"', "env": {"AETHER_INPUT_X": "config"}},
        BoundParameter("x", "input", True),
    )
    assert outputs(result)["stdout"] == "input"


def test_secret_environment_variables_are_not_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AETHER_SECRET_DB_PASSWORD", "hunter22")
    monkeypatch.setenv("AETHER_TEST_VISIBLE", "yes")
    result = run({"command": 'printf "%s %s" "${AETHER_SECRET_DB_PASSWORD-none}" "$AETHER_TEST_VISIBLE"'})
    assert outputs(result)["stdout"] == "none yes"


# --- results -----------------------------------------------------------------


def test_success_outputs_stdout_stderr_exit_code_in_order() -> None:
    result = run({"command": "echo hello; echo oops >&2"})
    assert result.code == 0
    assert result.message == ""
    assert [p.name for p in result.parameters] == ["stdout", "stderr", "exitCode"]
    assert outputs(result) == {"stdout": "hello", "stderr": "oops\n", "exitCode": 0}


def test_only_one_trailing_newline_is_removed() -> None:
    assert outputs(run({"command": "printf 'a\\n\\n'"}))["stdout"] == "a\n"


def test_array_command_runs_without_a_shell() -> None:
    result = run({"command": ["printf", "%s", "$HOME is not expanded"]})
    assert outputs(result)["stdout"] == "$HOME is not expanded"


def test_non_zero_exit_is_code_2_with_stderr() -> None:
    result = run({"command": "echo partial; echo boom >&2; exit 3"})
    assert result.code == 2
    assert result.message == "exit status 3: boom"
    assert outputs(result) == {"stdout": "partial", "stderr": "boom\n", "exitCode": 3}


def test_failure_message_carries_the_last_kib_of_stderr() -> None:
    result = run({"command": "head -c 5000 /dev/zero | tr '\\0' x >&2; printf END >&2; exit 1"})
    assert result.code == 2
    prefix = "exit status 1: "
    assert result.message.startswith(prefix)
    tail = result.message[len(prefix) :]
    assert tail.endswith("xxxEND")
    assert len(tail.encode()) == 1024


def test_streams_are_capped_within_l_value() -> None:
    result = run({"command": "head -c 1100000 /dev/zero | tr '\\0' a; head -c 1100000 /dev/zero | tr '\\0' b >&2"})
    assert result.code == 0
    values = outputs(result)
    assert len(values["stdout"].encode()) + 2 <= DEFAULT_LIMITS.value_bytes
    assert len(values["stderr"].encode()) + 2 <= DEFAULT_LIMITS.value_bytes
    assert "stdout truncated" in result.message
    assert "stderr truncated" in result.message


def test_aether_outputs_file_adds_outputs() -> None:
    result = run(
        {
            "command": """printf '{"rows": 3, "names": ["a"], "stdout": "replaced"}' """
            """> "$AETHER_OUTPUTS"; echo x"""
        }
    )
    assert result.code == 0
    assert [p.name for p in result.parameters] == ["stdout", "stderr", "exitCode", "rows", "names"]
    assert outputs(result) == {"stdout": "replaced", "stderr": "", "exitCode": 0, "rows": 3, "names": ["a"]}


def test_aether_outputs_file_starts_empty_and_is_removed() -> None:
    result = run({"command": 'printf "%s %s" "$AETHER_OUTPUTS" "$(wc -c < "$AETHER_OUTPUTS")"'})
    path, size = outputs(result)["stdout"].split()
    assert size == "0"
    assert not os.path.exists(path)


@pytest.mark.parametrize("content", ["not json", "[1, 2]"])
def test_invalid_aether_outputs_is_a_failure(content: str) -> None:
    result = run({"command": f"printf '{content}' > \"$AETHER_OUTPUTS\""})
    assert result.code == 2
    assert result.message.startswith("AETHER_OUTPUTS: ")


def test_missing_executable_is_code_3() -> None:
    result = run({"command": ["/nonexistent/aether-test-binary"]})
    assert result.code == 3
    assert "cannot start" in result.message


def test_missing_working_dir_is_code_3(tmp_path: Path) -> None:
    result = run({"command": "true", "workingDir": str(tmp_path / "nope")})
    assert result.code == 3


@pytest.mark.parametrize("config", [{}, {"command": 3}, {"command": []}, {"command": "true", "env": {"A": 1}}])
def test_bad_config_is_code_3(config: dict[str, Any]) -> None:
    assert run(config).code == 3


def test_background_job_does_not_outlive_the_task(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    result = run({"command": f"sleep 30 & echo $! > {pidfile}; echo done"})
    assert result.code == 0
    assert outputs(result)["stdout"] == "done"
    assert time.monotonic() - started < 15  # it did not wait for the background sleep
    pid = read_pid(pidfile)
    assert wait_for(lambda: not alive(pid), 5.0)


def test_group_members_get_sigterm_before_sigkill(tmp_path: Path) -> None:
    # A background job of the command gets the SIGTERM too, so it can clean up.
    termfile, ready = tmp_path / "term", tmp_path / "ready"
    job = f"(trap 'echo term > {termfile}; exit 0' TERM; touch {ready}; while :; do sleep 0.05; done) &"
    run_ = Background({"command": f"{job} wait"})
    assert wait_for(ready.exists)
    run_.cancel.set()
    assert run_.join().code == 3
    assert wait_for(termfile.exists, 5.0)


# --- cancel and deadline ----------------------------------------------------


def test_cancel_kills_the_whole_process_group(tmp_path: Path) -> None:
    shell_pid, sleep_pid = tmp_path / "shell", tmp_path / "sleep"
    run_ = Background({"command": f"echo $$ > {shell_pid}; sleep 30 & echo $! > {sleep_pid}; wait"})
    pids = [read_pid(shell_pid), read_pid(sleep_pid)]
    assert all(alive(pid) for pid in pids)
    run_.cancel.set()
    result = run_.join()
    assert result.code == 3
    assert result.message == "task cancelled"
    assert wait_for(lambda: not any(alive(pid) for pid in pids), 5.0)


def test_cancel_kills_a_descendant_that_left_the_process_group(tmp_path: Path) -> None:
    # setsid puts the sleep in a session of its own: signalling the task's group misses it.
    pidfile = tmp_path / "pid"
    command = f"setsid sleep 30 >/dev/null 2>&1 </dev/null & echo $! > {pidfile}; wait"
    run_ = Background({"command": command})
    pid = read_pid(pidfile)
    assert wait_for(lambda: os.getpgid(pid) == pid, 5.0)  # it has left the task's group
    run_.cancel.set()
    assert run_.join().code == 3
    assert wait_for(lambda: not alive(pid), 5.0)


def test_deadline_kills_a_descendant_that_left_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    deadline = datetime.now(UTC) + timedelta(seconds=1)
    command = f"setsid sleep 30 >/dev/null 2>&1 </dev/null & echo $! > {pidfile}; wait"
    run_ = Background({"command": command}, deadline=deadline)
    pid = read_pid(pidfile)
    assert run_.join().code == 4
    assert wait_for(lambda: not alive(pid), 5.0)


def test_process_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    run_ = Background({"command": f"trap '' TERM; echo $$ > {pidfile}; while :; do sleep 0.05; done"})
    pid = read_pid(pidfile)
    cancelled_at = time.monotonic()
    run_.cancel.set()
    result = run_.join()
    assert time.monotonic() - cancelled_at >= GRACE
    assert result.code == 3
    assert outputs(result)["exitCode"] == -9
    assert wait_for(lambda: not alive(pid), 5.0)


def test_deadline_kills_the_process_with_code_4(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    deadline = datetime.now(UTC) + timedelta(seconds=1)
    run_ = Background({"command": f"echo $$ > {pidfile}; exec sleep 30"}, deadline=deadline)
    pid = read_pid(pidfile)
    result = run_.join()
    assert result.code == 4
    assert result.message == "task timed out: deadline exceeded"
    assert time.monotonic() - run_.started < 15
    assert wait_for(lambda: not alive(pid), 5.0)


def test_deadline_already_passed_starts_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    ctx = context(deadline=datetime.now(UTC) - timedelta(seconds=1))
    result = run({"command": f"touch {marker}"}, ctx=ctx)
    assert result.code == 4
    assert not marker.exists()


def test_cancelled_before_start_starts_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = run({"command": f"touch {marker}"}, ctx=context(cancelled=lambda: True))
    assert result.code == 3
    assert not marker.exists()


# --- validation -------------------------------------------------------------


def test_validate_config() -> None:
    executor = ShellExecutor()
    assert executor.validate_config({"command": "echo"}) == []
    assert executor.validate_config({"command": ["echo", "x"], "workingDir": "/", "env": {"A": "b"}}) == []
    messages = [p.message for p in executor.validate_config({"workingDir": 1, "env": {"A": 2}})]
    assert messages == [
        'shell: "command" is required',
        'shell: "workingDir" must be a string',
        'shell: "env" must be an object of strings',
    ]
    problems = executor.validate_config({"command": [1]})
    assert [(p.code, p.severity, p.path) for p in problems] == [("W-EXECUTOR-CONFIG", "warning", "$")]


def test_failing_cancel_flag_still_kills_the_process(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"

    def cancelled() -> bool:
        if pidfile.exists() and pidfile.read_text().strip():
            raise ConnectionError("broker gone")
        return False

    with pytest.raises(ConnectionError):
        run({"command": f"echo $$ > {pidfile}; exec sleep 30"}, ctx=context(cancelled))
    assert wait_for(lambda: not alive(read_pid(pidfile)), 5.0)


def test_the_command_knows_which_run_task_and_attempt_it_is() -> None:
    request = attrs.evolve(
        assignment(
            {"command": 'echo "$AETHER_RUN_ID $AETHER_NODE_ID $AETHER_ATTEMPT $AETHER_RETRY_COUNT $AETHER_TASK_NAME"'}
        ),
        attempt=3,
        retry_count=2,
    )
    result = ShellExecutor().execute(request, context())
    assert result.code == 0
    assert outputs(result)["stdout"] == f"{request.run_id} {request.node_id} 3 2 {request.task_name}"
