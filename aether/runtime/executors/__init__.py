"""Executor plugins (SPEC §14, §15 ``ExecutorPlugin``) and the built-in set."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from aether.model.json_value import JSON
from aether.runtime.executors.await_exec import AwaitExecutor
from aether.runtime.executors.base import (
    CODE_ERROR,
    CODE_FAILED,
    CODE_SUCCEEDED,
    CODE_SUSPENDED,
    CODE_TIMEOUT,
    ExecContext,
    ExecResult,
    ExecutorPlugin,
)
from aether.runtime.executors.echo import EchoExecutor
from aether.runtime.executors.http import HttpExecutor
from aether.runtime.executors.process import DEFAULT_GRACE_SECONDS
from aether.runtime.executors.python_exec import PythonExecutor
from aether.runtime.executors.script import ScriptExecutor
from aether.runtime.executors.shell import ShellExecutor

BUILTIN_TYPES = ("echo", "shell", "script", "python", "http", "await")


def builtin_executors(
    *, disabled: Collection[str] = (), grace_seconds: float = DEFAULT_GRACE_SECONDS
) -> dict[str, ExecutorPlugin]:
    """The built-in executors by type, minus ``disabled`` (SPEC §14.3: operators can turn
    each one off). ``grace_seconds`` is the SIGTERM → SIGKILL wait of the process-based ones."""
    unknown = set(disabled) - set(BUILTIN_TYPES)
    if unknown:
        raise ValueError(f"unknown built-in executor type(s): {', '.join(sorted(unknown))}")
    every: list[ExecutorPlugin] = [
        EchoExecutor(),
        ShellExecutor(grace_seconds),
        ScriptExecutor(grace_seconds),
        PythonExecutor(grace_seconds),
        HttpExecutor(),
        AwaitExecutor(),
    ]
    return {plugin.type: plugin for plugin in every if plugin.type not in disabled}


ConfigCheck = Callable[[dict[str, JSON] | None], list[str]]


def config_checks(executors: Mapping[str, ExecutorPlugin]) -> dict[str, ConfigCheck]:
    """Each executor type with its ``validate_config`` as the document validator calls it
    (SPEC §3.3.5 ``W-EXECUTOR-CONFIG``): what a submission to an engine with these
    executors checks, and what ``aether validate`` checks for the built-in ones."""

    def check_of(plugin: ExecutorPlugin) -> ConfigCheck:
        return lambda config: [problem.message for problem in plugin.validate_config(config)]

    return {kind: check_of(plugin) for kind, plugin in executors.items()}


__all__ = [
    "BUILTIN_TYPES",
    "CODE_ERROR",
    "CODE_FAILED",
    "CODE_SUCCEEDED",
    "CODE_SUSPENDED",
    "CODE_TIMEOUT",
    "AwaitExecutor",
    "ConfigCheck",
    "EchoExecutor",
    "ExecContext",
    "ExecResult",
    "ExecutorPlugin",
    "HttpExecutor",
    "PythonExecutor",
    "ScriptExecutor",
    "ShellExecutor",
    "builtin_executors",
    "config_checks",
]
