"""The ``await`` executor (SPEC §14.3): suspend until a resume delivers a payload."""

from __future__ import annotations

from collections.abc import Mapping

from aether.events.assignment import TaskAssignment
from aether.model.json_value import JSON
from aether.model.problems import Problem, warning
from aether.runtime.executors.base import CODE_SUSPENDED, ExecContext, ExecResult

CONFIG_PROBLEM = "W-EXECUTOR-CONFIG"
DEFAULT_MESSAGE = "awaiting resume"
RESUMED = "__resumed"


class AwaitExecutor:
    type = "await"

    def validate_config(self, config: Mapping[str, JSON] | None) -> list[Problem]:
        message = (config or {}).get("message")
        if message is not None and not isinstance(message, str):
            return [warning(CONFIG_PROBLEM, "$", 'await: "message" must be a string')]
        return []

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        payload = request.resume_payload
        if payload is None:
            message = (request.executor_config or {}).get("message")
            return ExecResult(CODE_SUSPENDED, message if isinstance(message, str) else DEFAULT_MESSAGE)
        return ExecResult.outputs({k: v for k, v in payload.items() if k != RESUMED})
