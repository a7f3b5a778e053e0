"""The worker's last step (SPEC §14.1, §3.2): a result the log could not record ends the
attempt with code 3 and a message naming the output, the path in its value and the rule
or limit, instead of reaching the engine as an event it cannot encode."""

from __future__ import annotations

import attrs

from aether.model.limits import DEFAULT_LIMITS, Limits
from aether.model.storable import printable, storable_problem
from aether.runtime.executors.base import CODE_ERROR, ExecResult
from aether.scheduler.result_limits import UNSTORABLE, result_problem


def recordable_result(result: ExecResult, limits: Limits = DEFAULT_LIMITS) -> ExecResult:
    message = printable(result.message) if isinstance(result.message, str) else str(result.message)
    refused = result_problem(result.parameters, limits)
    if refused is None:
        artifacts = storable_problem(list(result.artifacts), limits, path="$.artifacts")
        refused = None if artifacts is None else f"{UNSTORABLE}: {artifacts.path}: {artifacts.message}"
    if refused is not None:
        return ExecResult(CODE_ERROR, refused)
    return result if message == result.message else attrs.evolve(result, message=message)
