"""The ``script`` executor (SPEC §14.3): write ``source`` to a file, run ``<runtime> <file>``.

Everything after building the command line is the shell executor's behaviour.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from collections.abc import Mapping

from aether.events.assignment import TaskAssignment
from aether.model.json_value import JSON
from aether.model.problems import Problem, warning
from aether.runtime.executors.base import CODE_ERROR, ExecContext, ExecResult
from aether.runtime.executors.process import DEFAULT_GRACE_SECONDS
from aether.runtime.executors.shell import CONFIG_PROBLEM, run_command, validate_common


class ScriptExecutor:
    type = "script"
    # Run as a command: no secret is interpolated into them, and config.quote quotes what is.
    command_fields = ("runtime", "source")

    def __init__(self, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> None:
        self.grace_seconds = grace_seconds

    def validate_config(self, config: Mapping[str, JSON] | None) -> list[Problem]:
        config = config or {}
        problems: list[Problem] = []
        for key in ("runtime", "source"):
            value = config.get(key)
            if value is None:
                problems.append(warning(CONFIG_PROBLEM, "$", f'script: "{key}" is required'))
            elif not isinstance(value, str):
                problems.append(warning(CONFIG_PROBLEM, "$", f'script: "{key}" must be a string'))
        runtime = config.get("runtime")
        if isinstance(runtime, str) and not runtime.strip():
            problems.append(warning(CONFIG_PROBLEM, "$", 'script: "runtime" must not be empty'))
        return problems + validate_common("script", config)

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        config = request.executor_config or {}
        runtime, source = config.get("runtime"), config.get("source")
        if not isinstance(runtime, str) or not isinstance(source, str):
            return ExecResult(CODE_ERROR, '"runtime" and "source" must be strings')
        try:
            # shlex lets a runtime carry its own flags ("python3 -u", "bash -eu").
            runtime_argv = shlex.split(runtime)
        except ValueError as exc:
            return ExecResult(CODE_ERROR, f'"runtime": {exc}')
        if not runtime_argv:
            return ExecResult(CODE_ERROR, '"runtime" must not be empty')

        directory = tempfile.mkdtemp(prefix="aether-script-")
        try:
            path = os.path.join(directory, "script")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(source)
            return run_command([*runtime_argv, path], request, ctx, grace_seconds=self.grace_seconds)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
