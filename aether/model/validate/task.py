"""Task templates and executors (SPEC §2.5.3, §3.3.5), and the retry policy (§2.6)."""

from __future__ import annotations

from aether.model.durations import parse_duration_nanos
from aether.model.types import Executor, Retry, TaskTemplate
from aether.model.validate.context import Context
from aether.model.validate.fields import check_duration, check_phase_conditions, check_resources, schema_range
from aether.model.validate.hooks import HookScope, check_hooks
from aether.model.validate.params import Role, check_parameters
from aether.model.validate.shell_interpolation import check_shell_interpolation

RETRY_LIMIT_MAX = 100

# Call-site fields a task template may carry but never uses (§2.5.3), as (attr, wire).
_CALL_SITE_FIELDS = (
    ("template", "template"),
    ("dependencies", "dependencies"),
    ("arguments", "arguments"),
    ("when", "when"),
    ("continue_on", "continueOn"),
)


def check_executor(ctx: Context, executor: Executor, path: str, owner: str) -> None:
    """``owner`` is the template named in E-EXECUTOR-TYPE-REQUIRED (for an inline task,
    the DAG template that holds it)."""
    kind = executor.type
    if not kind:
        ctx.error("E-EXECUTOR-TYPE-REQUIRED", f"{path}.type", f'template "{owner}": executor.type is required')
        return
    check_shell_interpolation(ctx, executor, path)
    checks = ctx.executor_checks
    if checks is None:
        return
    check = checks.get(kind)
    if check is None:
        ctx.warn("W-EXECUTOR-UNKNOWN", f"{path}.type", f'executor type "{kind}" is not registered')
        return
    try:
        texts = list(check(executor.config))
    except Exception as exc:  # a plug-in's checker must not make loading raise
        texts = [f"check failed: {exc}"]
    config_path = f"{path}.config" if executor.config is not None else path
    for text in texts:
        ctx.warn("W-EXECUTOR-CONFIG", config_path, f'executor "{kind}" config: {text}')


def _backoff_duration(ctx: Context, value: str | None, path: str, wire: str, required: bool) -> None:
    if not value:
        if required:
            ctx.error("E-RETRY-BACKOFF", path, f"retry.backoff: {wire} is required")
        return
    nanos = parse_duration_nanos(value)
    if nanos is None:
        ctx.error("E-RETRY-BACKOFF", path, f'retry.backoff: {wire} "{value}" is not a valid duration')
    elif required and nanos <= 0:
        ctx.error("E-RETRY-BACKOFF", path, f"retry.backoff: {wire} must be > 0")


def check_retry(ctx: Context, retry: Retry, path: str) -> None:
    if retry.limit is not None and retry.limit > RETRY_LIMIT_MAX:
        schema_range(ctx, f"{path}.limit", "retry.limit", retry.limit, f"must be at most {RETRY_LIMIT_MAX}")
    backoff = retry.backoff
    if backoff is None:
        return
    backoff_path = f"{path}.backoff"
    _backoff_duration(ctx, backoff.duration, f"{backoff_path}.duration", "duration", required=True)
    if backoff.factor is not None and backoff.factor < 1:
        ctx.error("E-RETRY-BACKOFF", f"{backoff_path}.factor", "retry.backoff: factor must be >= 1")
    _backoff_duration(ctx, backoff.max_duration, f"{backoff_path}.maxDuration", "maxDuration", required=False)


def check_task_template(ctx: Context, task: TaskTemplate, path: str) -> None:
    name = task.name or ""
    prefix = f'template "{name}": '
    if task.executor is None:
        message = f'template "{name}" has no executor; a task that runs it will end in Error'
        ctx.warn("W-TASK-NO-EXECUTOR", path, message)
    else:
        check_executor(ctx, task.executor, f"{path}.executor", name)
    check_parameters(ctx, task.inputs, f"{path}.inputs", Role.TEMPLATE_INPUTS, name)
    check_parameters(ctx, task.outputs, f"{path}.outputs", Role.OUTPUTS, name)
    check_duration(ctx, task.timeout, f"{path}.timeout")
    check_resources(ctx, task.resources, f"{path}.resources")
    check_phase_conditions(ctx, task.phase_conditions, f"{path}.phaseConditions")
    if task.retry is not None:
        message = "retry on a template is ignored; set it on the DAG task"
        ctx.warn("W-TEMPLATE-RETRY-IGNORED", f"{path}.retry", message)
        check_retry(ctx, task.retry, f"{path}.retry")
    check_hooks(ctx, task.hooks, f"{path}.hooks", f'template "{name}" hooks', HookScope.TASK_TEMPLATE)
    for attr, wire in _CALL_SITE_FIELDS:
        if getattr(task, attr) is not None:
            message = f"{wire} is ignored here: a task template is not a call site"
            ctx.warn("W-CALLSITE-FIELD-IGNORED", f"{path}.{wire}", prefix + message)
