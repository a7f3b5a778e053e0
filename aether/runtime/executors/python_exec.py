"""The ``python`` executor (SPEC §14.3): call ``package.module:function`` in a child process.

A child process, not a thread, because a function that hangs or spins must be killable
on cancel and deadline, and must not share the worker's memory. The child runs the small
runner below with ``python -c``: it reads the call on stdin as JSON, and writes the
outcome as JSON to a file, so whatever the function prints cannot corrupt the protocol.
The parent's ``sys.path`` travels with the call, as multiprocessing's spawn does, so the
child imports what the worker could import.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from typing import TypeGuard

from aether.events.assignment import TaskAssignment
from aether.model.json_value import JSON
from aether.model.problems import Problem, warning
from aether.runtime.executors.base import (
    CODE_ERROR,
    CODE_FAILED,
    CODE_TIMEOUT,
    ExecContext,
    ExecResult,
)
from aether.runtime.executors.process import (
    DEFAULT_GRACE_SECONDS,
    STDERR_TAIL_BYTES,
    StartFailed,
    inherited_env,
    run_process,
    tail_text,
)

CONFIG_PROBLEM = "W-EXECUTOR-CONFIG"
TRACEBACK_BYTES = 4 << 10  # SPEC §14.3: the last 4 KiB of the formatted traceback

_RUNNER = r"""
import importlib, json, math, sys, traceback

def check(value, path, depth=0):
    if depth > 500:
        return path + ": nested too deeply"
    if value is None or isinstance(value, (bool, int, str)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else path + ": " + repr(value) + " is not a JSON number"
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            problem = check(item, path + "[" + str(i) + "]", depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return path + ": key " + repr(key) + " is not a string"
            problem = check(item, path + "." + key, depth + 1)
            if problem:
                return problem
        return None
    return path + ": " + type(value).__name__ + " is not JSON-serialisable"

def main():
    call = json.loads(sys.stdin.buffer.read())
    sys.path[:] = call["sys_path"]
    def finish(outcome):
        with open(call["result_path"], "w", encoding="utf-8") as handle:
            json.dump(outcome, handle, allow_nan=False)
    try:
        module_name, _, attribute = call["function"].partition(":")
        target = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except BaseException:
        finish({"status": "load", "error": traceback.format_exc()})
        return
    try:
        value = target(**call["kwargs"])
    except BaseException:
        finish({"status": "raised", "error": traceback.format_exc()})
        return
    problem = check(value, "result")
    if problem is None:
        try:
            finish({"status": "ok", "value": value})
            return
        except (TypeError, ValueError) as exc:
            problem = "result: " + str(exc)
    finish({"status": "invalid", "error": problem})

main()
"""


def _is_function_ref(text: object) -> TypeGuard[str]:
    if not isinstance(text, str):
        return False
    module, sep, attribute = text.partition(":")
    return bool(sep and module.strip() and attribute.strip())


class PythonExecutor:
    type = "python"

    def __init__(self, grace_seconds: float = DEFAULT_GRACE_SECONDS, python: str | None = None) -> None:
        self.grace_seconds = grace_seconds
        self.python = python or sys.executable or "python3"

    def validate_config(self, config: Mapping[str, JSON] | None) -> list[Problem]:
        function = (config or {}).get("function")
        if function is None:
            return [warning(CONFIG_PROBLEM, "$", 'python: "function" is required')]
        if not _is_function_ref(function):
            return [warning(CONFIG_PROBLEM, "$", 'python: "function" must be "package.module:function"')]
        return []

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        function = (request.executor_config or {}).get("function")
        if not _is_function_ref(function):
            return ExecResult(CODE_ERROR, '"function" must be "package.module:function"')
        if ctx.cancelled():
            return ExecResult(CODE_ERROR, "task cancelled before start")
        left = ctx.seconds_left()
        if left is not None and left <= 0:
            return ExecResult(CODE_TIMEOUT, "task timed out: deadline passed before start")

        kwargs = {p.name.replace("-", "_"): p.value for p in request.inputs if p.has_value}
        directory = tempfile.mkdtemp(prefix="aether-python-")
        try:
            result_path = os.path.join(directory, "result.json")
            call = {"function": function, "kwargs": kwargs, "sys_path": sys.path, "result_path": result_path}
            try:
                outcome = run_process(
                    [self.python, "-c", _RUNNER],
                    ctx=ctx,
                    env=inherited_env(),
                    stdin_data=json.dumps(call).encode("utf-8"),
                    grace_seconds=self.grace_seconds,
                )
            except StartFailed as exc:
                return ExecResult(CODE_ERROR, str(exc))
            if outcome.stopped == "cancelled":
                return ExecResult(CODE_ERROR, "task cancelled")
            if outcome.stopped == "deadline":
                return ExecResult(CODE_TIMEOUT, "task timed out: deadline exceeded")
            try:
                with open(result_path, encoding="utf-8") as handle:
                    reply = json.load(handle)
            except (OSError, ValueError):
                stderr = tail_text(outcome.stderr_tail, STDERR_TAIL_BYTES).rstrip("\n")
                return ExecResult(CODE_ERROR, f"python runner exited with status {outcome.returncode}: {stderr}")
            return _result(function, reply)
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def _result(function: str, reply: Mapping[str, JSON]) -> ExecResult:
    status = reply.get("status")
    if status == "ok":
        value = reply.get("value")
        if value is None:
            return ExecResult()
        if isinstance(value, dict):
            return ExecResult.outputs(value)
        return ExecResult.outputs({"result": value})
    if status == "raised":
        return ExecResult(CODE_FAILED, tail_text(str(reply.get("error", "")).encode("utf-8"), TRACEBACK_BYTES))
    if status == "load":
        error = tail_text(str(reply.get("error", "")).encode("utf-8"), TRACEBACK_BYTES)
        return ExecResult(CODE_ERROR, f"cannot load {function}: {error}")
    return ExecResult(CODE_ERROR, f"result is not JSON-serialisable: {reply.get('error')}")
