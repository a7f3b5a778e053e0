"""The ``shell`` executor (SPEC §14.3): run a command, report its streams and exit status.

:func:`run_command` is also the body of the ``script`` executor, which differs only in how
it builds ``argv``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import TypeGuard

from aether.events.assignment import TaskAssignment
from aether.model.json_value import JSON
from aether.model.limits import DEFAULT_LIMITS
from aether.model.problems import Problem, warning
from aether.runtime.executors.base import (
    CODE_ERROR,
    CODE_FAILED,
    CODE_SUCCEEDED,
    CODE_TIMEOUT,
    ExecContext,
    ExecResult,
)
from aether.runtime.executors.process import (
    DEFAULT_GRACE_SECONDS,
    MAX_STREAM_BYTES,
    STDERR_TAIL_BYTES,
    ProcessOutcome,
    StartFailed,
    identity_env,
    inherited_env,
    input_env,
    run_process,
    tail_text,
)
from aether.runtime.executors.streams import stream_value

CONFIG_PROBLEM = "W-EXECUTOR-CONFIG"
OUTPUTS_ENV = "AETHER_OUTPUTS"


class ConfigError(Exception):
    """The interpolated config cannot be run (code 3)."""


def validate_common(kind: str, config: Mapping[str, JSON]) -> list[Problem]:
    """Problems with the keys shell and script share: ``workingDir``, ``env`` and ``quote``
    (see :mod:`aether.runtime.config_interpolation`)."""
    problems: list[Problem] = []
    quote = config.get("quote")
    if quote is not None and not isinstance(quote, bool):
        problems.append(warning(CONFIG_PROBLEM, "$", f'{kind}: "quote" must be true or false'))
    working_dir = config.get("workingDir")
    if working_dir is not None and not isinstance(working_dir, str):
        problems.append(warning(CONFIG_PROBLEM, "$", f'{kind}: "workingDir" must be a string'))
    env = config.get("env")
    if env is not None and not (isinstance(env, dict) and all(isinstance(v, str) for v in env.values())):
        problems.append(warning(CONFIG_PROBLEM, "$", f'{kind}: "env" must be an object of strings'))
    return problems


def run_command(
    argv: Sequence[str],
    request: TaskAssignment,
    ctx: ExecContext,
    *,
    grace_seconds: float,
    cwd: str | None = None,
) -> ExecResult:
    """Run ``argv`` under the shell rules: inputs as environment, ``AETHER_OUTPUTS`` file,
    exit status → code, streams and extra outputs → parameters."""
    config = request.executor_config or {}
    if ctx.cancelled():
        return ExecResult(CODE_ERROR, "task cancelled before start")
    left = ctx.seconds_left()
    if left is not None and left <= 0:
        return ExecResult(CODE_TIMEOUT, "task timed out: deadline passed before start")
    try:
        env = _environment(config, request)
        working_dir = _working_dir(config, cwd)
    except ConfigError as exc:
        return ExecResult(CODE_ERROR, str(exc))

    fd, outputs_path = tempfile.mkstemp(prefix="aether-outputs-", suffix=".json")
    os.close(fd)
    try:
        env[OUTPUTS_ENV] = outputs_path
        try:
            outcome = run_process(argv, ctx=ctx, env=env, cwd=working_dir, grace_seconds=grace_seconds)
        except StartFailed as exc:
            return ExecResult(CODE_ERROR, str(exc))
        return _result(outcome, outputs_path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(outputs_path)


def _environment(config: Mapping[str, JSON], request: TaskAssignment) -> dict[str, str]:
    # Precedence, later wins: the worker's environment, config.env, the inputs, and
    # AETHER_OUTPUTS, so a config cannot shadow what the runtime hands the task.
    env = inherited_env()
    extra = config.get("env")
    if extra is not None:
        if not isinstance(extra, dict):
            raise ConfigError('"env" must be an object of strings')
        for key, value in extra.items():
            if not isinstance(value, str):
                raise ConfigError(f'"env.{key}" must be a string')
            env[str(key)] = value
    env.update(identity_env(request))
    env.update(input_env(request.inputs))
    return env


def _working_dir(config: Mapping[str, JSON], default: str | None) -> str | None:
    working_dir = config.get("workingDir")
    if working_dir is None or working_dir == "":
        return default
    if not isinstance(working_dir, str):
        raise ConfigError('"workingDir" must be a string')
    return working_dir


def _result(outcome: ProcessOutcome, outputs_path: str) -> ExecResult:
    stdout, stdout_omitted = stream_value(outcome.stdout, outcome.stdout_tail, outcome.stdout_total)
    stderr, stderr_omitted = stream_value(outcome.stderr, outcome.stderr_tail, outcome.stderr_total)
    if stdout.endswith("\n"):
        stdout = stdout[:-2] if stdout.endswith("\r\n") else stdout[:-1]
    values: dict[str, JSON] = {
        "stdout": stdout,
        "stderr": stderr,
        "exitCode": outcome.returncode,
    }
    notes = [
        f"{name} truncated to its head and tail within L-VALUE ({DEFAULT_LIMITS.value_bytes} bytes): "
        f"{omitted} of {total} bytes left out"
        for name, omitted, total in (
            ("stdout", stdout_omitted, outcome.stdout_total),
            ("stderr", stderr_omitted, outcome.stderr_total),
        )
        if omitted
    ]

    if outcome.stopped == "cancelled":
        return ExecResult.outputs(values, CODE_ERROR, _join("task cancelled", notes))
    if outcome.stopped == "deadline":
        return ExecResult.outputs(values, CODE_TIMEOUT, _join("task timed out: deadline exceeded", notes))

    try:
        values.update(_read_outputs_file(outputs_path))
    except ValueError as exc:
        return ExecResult.outputs(values, CODE_FAILED, _join(f"{OUTPUTS_ENV}: {exc}", notes))
    if outcome.returncode != 0:
        stderr_tail = tail_text(outcome.stderr_tail, STDERR_TAIL_BYTES).rstrip("\n")
        message = f"exit status {outcome.returncode}: {stderr_tail}"
        return ExecResult.outputs(values, CODE_FAILED, _join(message, notes))
    return ExecResult.outputs(values, CODE_SUCCEEDED, "; ".join(notes))


def _read_outputs_file(path: str) -> dict[str, JSON]:
    """The JSON object the command wrote to ``AETHER_OUTPUTS`` (nothing written: no outputs)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_STREAM_BYTES + 1)
    except OSError:
        return {}  # the command removed the file: it wrote no outputs
    if len(data) > MAX_STREAM_BYTES:
        raise ValueError(f"larger than {MAX_STREAM_BYTES} bytes")
    if not data.strip():
        return {}
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"invalid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise ValueError("must hold a JSON object")
    return parsed


def _join(message: str, notes: Sequence[str]) -> str:
    return "; ".join([message, *notes])


class ShellExecutor:
    type = "shell"
    # Run as a command: no secret is interpolated into it, and config.quote quotes what is.
    command_fields = ("command",)

    def __init__(self, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> None:
        self.grace_seconds = grace_seconds

    def validate_config(self, config: Mapping[str, JSON] | None) -> list[Problem]:
        config = config or {}
        problems: list[Problem] = []
        command = config.get("command")
        if command is None:
            problems.append(warning(CONFIG_PROBLEM, "$", 'shell: "command" is required'))
        elif not _is_command(command):
            problems.append(
                warning(CONFIG_PROBLEM, "$", 'shell: "command" must be a string or a non-empty array of strings')
            )
        return problems + validate_common("shell", config)

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        command = (request.executor_config or {}).get("command")
        if not _is_command(command):
            return ExecResult(CODE_ERROR, '"command" must be a string or a non-empty array of strings')
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        return run_command(argv, request, ctx, grace_seconds=self.grace_seconds)


def _is_command(command: object) -> TypeGuard[str | list[str]]:
    if isinstance(command, str):
        return True
    return isinstance(command, list) and bool(command) and all(isinstance(a, str) for a in command)
