"""The worker runtime's handling of one assignment (SPEC §14.1 worker rules).

Around the executor, and nothing else: resolve ``secretKeyRef`` inputs, interpolate
``executorConfig`` (SPEC §4.7), hand the deadline and the cancel flag to the executor,
turn exceptions into codes 3/4, and redact secret values from the result. Enforcing the
deadline is the executor's job (through ``ctx``), and the engine's deadline timer covers
executors that ignore it, like ``echo`` (SPEC §14.2).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from aether.events.assignment import TaskAssignment
from aether.events.values import BoundParameter, ResultParameter
from aether.model.json_value import JSON
from aether.model.limits import DEFAULT_LIMITS, Limits
from aether.runtime.config_interpolation import ConfigRefused, command_rules, interpolate_config
from aether.runtime.executors.base import CODE_ERROR, CODE_TIMEOUT, ExecContext, ExecResult, ExecutorPlugin
from aether.runtime.executors.task_log_sink import DISCARD
from aether.runtime.result_check import recordable_result
from aether.runtime.secrets import SecretProvider
from aether.runtime.task_logs import AttemptLog

REDACTED = "<redacted>"
MIN_REDACTED_LENGTH = 4  # shorter secret values would redact half the world ("true", "1")


class _Refused(Exception):
    """A step before execution failed; the text is the result message (code 3)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def _never() -> bool:
    return False


def run_assignment(
    assignment: TaskAssignment,
    executors: Mapping[str, ExecutorPlugin],
    *,
    secrets: SecretProvider | None = None,
    vars_env: Mapping[str, JSON] | None = None,
    now: Callable[[], datetime] = utc_now,
    cancelled: Callable[[], bool] = _never,
    artifacts: Any = None,
    log: Callable[[str], None] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    task_log: AttemptLog | None = None,
) -> ExecResult:
    """Execute one assignment and return its result; never raises ``Exception``. A result
    the log could not store under ``limits`` (the engine's) fails with code 3 instead.
    ``task_log`` receives the task's output while it runs, secret values hidden."""
    plugin = executors.get(assignment.executor_type)
    if plugin is None:
        return ExecResult(CODE_ERROR, f"unknown executor type: {assignment.executor_type}")
    secret_values: list[str] = []
    try:
        deadline = parse_deadline(assignment.deadline)
        inputs = resolve_secrets(assignment.inputs, secrets, secret_values)
        env = interpolation_env(assignment, inputs, vars_env or {})
        config = assignment.executor_config
        if config is not None:
            secret_inputs = (p.name for p in assignment.inputs if p.secret_key_ref is not None)
            config = interpolate_config(config, env, command_rules(plugin, secret_inputs))
    except (_Refused, ConfigRefused) as exc:
        return redact(ExecResult(CODE_ERROR, str(exc)), secret_values)

    request = attrs.evolve(assignment, inputs=inputs, executor_config=config)
    ctx = ExecContext(
        cancelled=cancelled,
        deadline=deadline,
        now=now,
        artifacts=artifacts,
        log=_messages(log, task_log),
        task_log=DISCARD if task_log is None else task_log,
    )
    if task_log is not None and secret_values:
        task_log.hide(secret_values)
    try:
        result = plugin.execute(request, ctx)
    except Exception as exc:
        if deadline is not None and now() >= deadline:
            result = ExecResult(CODE_TIMEOUT, f"task timed out: {_describe(exc)}")
        else:
            result = ExecResult(CODE_ERROR, _describe(exc))
    if not isinstance(result, ExecResult):
        result = ExecResult(
            CODE_ERROR,
            f"executor {assignment.executor_type} returned {type(result).__name__}, not ExecResult",
        )
    return recordable_result(redact(result, secret_values), limits)


def _messages(log: Callable[[str], None] | None, task_log: AttemptLog | None) -> Callable[[str], None]:
    """An executor's messages go to the process's log and to the attempt's task log."""

    def write(message: str) -> None:
        if log is not None:
            log(message)
        if task_log is not None:
            task_log.message(message)

    return write


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def parse_deadline(text: str | None) -> datetime | None:
    if text is None or text == "":
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise _Refused(f"invalid deadline: {text!r}") from None
    # SPEC §0: times are UTC; a deadline written without an offset means UTC.
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def resolve_secrets(
    inputs: Iterable[BoundParameter], provider: SecretProvider | None, found: list[str]
) -> tuple[BoundParameter, ...]:
    """Inputs with every ``secretKeyRef`` replaced by its value; each value is appended
    to ``found`` for redaction."""
    resolved: list[BoundParameter] = []
    for param in inputs:
        ref = param.secret_key_ref
        if ref is None:
            resolved.append(param)
            continue
        where = f'secret "{ref.name}/{ref.key}"'
        if provider is None:
            raise _Refused(f"{where}: no secret provider configured")
        try:
            value = provider.get(ref.name, ref.key)
        except Exception as exc:  # SecretNotFound, or a provider's own failure
            raise _Refused(f"{where}: {_describe(exc)}") from exc
        if not isinstance(value, str):
            raise _Refused(f"{where}: provider returned {type(value).__name__}, not a string")
        found.append(value)
        resolved.append(param.with_value(value))
    return tuple(resolved)


def interpolation_env(
    assignment: TaskAssignment, inputs: Iterable[BoundParameter], vars_env: Mapping[str, JSON]
) -> dict[str, JSON]:
    """The flat environment of SPEC §4.7 for ``executor.config``; later layers win
    (SPEC §4.2 precedence): variable sources, ``workflow.*``, ``inputs.parameters.*``."""
    env: dict[str, JSON] = dict(vars_env)
    env["workflow.name"] = assignment.workflow_name
    env["workflow.namespace"] = assignment.namespace
    env["workflow.runId"] = assignment.run_id
    for param in inputs:
        key = f"inputs.parameters.{param.name}"
        if param.has_value:
            env[key] = param.value
        elif param.default is not None:
            env[key] = param.default
    return env


def redact(result: ExecResult, secret_values: Collection[str]) -> ExecResult:
    """Every output value whose text contains a secret value of 4 or more characters
    becomes ``"<redacted>"`` (SPEC §14.1). Extension: occurrences in the message are
    replaced too, since the message is recorded in the log as well; and a result with an
    output *name* that contains a secret value is refused (code 3) without those outputs,
    because a name cannot be redacted: several would become the same name."""
    needles = sorted({s for s in secret_values if len(s) >= MIN_REDACTED_LENGTH}, key=len, reverse=True)
    if not needles:
        return result
    parameters = tuple(
        ResultParameter(p.name, REDACTED, True, p.type) if p.has_value and _contains(p.value, needles) else p
        for p in result.parameters
    )
    message = result.message
    for needle in needles:
        message = message.replace(needle, REDACTED)
    kept = tuple(p for p in parameters if not _contains(p.name, needles))
    if len(kept) < len(parameters):
        refusal = f"{len(parameters) - len(kept)} output name(s) contain a secret value; they were dropped"
        return attrs.evolve(result, code=CODE_ERROR, parameters=kept, message=_join(refusal, message))
    return attrs.evolve(result, parameters=parameters, message=message)


def _join(first: str, second: str) -> str:
    return f"{first}: {second}" if second else first


def _contains(value: JSON, needles: Collection[str]) -> bool:
    if isinstance(value, str):
        return any(needle in value for needle in needles)
    if isinstance(value, dict):
        return any(_contains(k, needles) or _contains(v, needles) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_contains(item, needles) for item in value)
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = str(value)
    return any(needle in text for needle in needles)
