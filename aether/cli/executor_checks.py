"""The executor config checks of the built-in executors (SPEC §3.3.5 ``W-EXECUTOR-CONFIG``),
for commands that validate without an engine: ``aether validate`` reports what ``aether run``
would, instead of leaving a misspelt config to fail at run time."""

from __future__ import annotations

from collections.abc import Callable

from aether.model.json_value import JSON
from aether.runtime.executors import ExecutorPlugin, builtin_executors

ConfigCheck = Callable[[dict[str, JSON] | None], list[str]]


def _check_of(plugin: ExecutorPlugin) -> ConfigCheck:
    return lambda config: [problem.message for problem in plugin.validate_config(config)]


def builtin_config_checks() -> dict[str, ConfigCheck]:
    """Each built-in executor type with its ``validate_config``, as the engine registers them."""
    return {kind: _check_of(plugin) for kind, plugin in builtin_executors().items()}
