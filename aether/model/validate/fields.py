"""Field checks shared by every kind of template: durations (SPEC §2.9),
phaseConditions expressions and resource formats (W-SCHEMA-RANGE, §2.6)."""

from __future__ import annotations

import re
from functools import lru_cache

from aether.model.durations import duration_problem
from aether.model.types import PhaseConditions, Resources
from aether.model.validate.context import Context
from aether.model.validate.expressions import check_expression

_CPU = "^[0-9]+m?$"
_MEMORY = "^[0-9]+(Ki|Mi|Gi|Ti)?$"
_CPU_RE = re.compile(r"[0-9]+m?\Z")
_MEMORY_RE = re.compile(r"[0-9]+(?:Ki|Mi|Gi|Ti)?\Z")
_DIGITS_RE = re.compile(r"[0-9]+\Z")


@lru_cache(maxsize=1024)
def _invalid_duration(value: str) -> bool:
    # Documents repeat the same few durations; parsing one is not free.
    return duration_problem(value)


def check_duration(ctx: Context, value: str | None, path: str) -> None:
    if value and _invalid_duration(value):
        ctx.warn("W-DURATION-INVALID", path, f'duration "{value}" is not valid; no deadline applies')


def check_phase_conditions(ctx: Context, conditions: PhaseConditions | None, path: str) -> None:
    if conditions is None:
        return
    check_expression(ctx, conditions.succeeded, f"{path}.succeeded")
    check_expression(ctx, conditions.failed, f"{path}.failed")
    check_expression(ctx, conditions.error, f"{path}.error")


def schema_range(ctx: Context, path: str, field: str, value: object, rule: str) -> None:
    ctx.warn("W-SCHEMA-RANGE", path, f'{field} "{value}" is outside the schema range: {rule}')


def check_resources(ctx: Context, resources: Resources | None, path: str) -> None:
    if resources is None:
        return
    cpu, memory, gpu = resources.cpu, resources.memory, resources.gpu
    if isinstance(cpu, str) and not _CPU_RE.match(cpu):
        schema_range(ctx, f"{path}.cpu", "resources.cpu", cpu, f"must match {_CPU}")
    elif isinstance(cpu, int | float) and cpu < 0:
        schema_range(ctx, f"{path}.cpu", "resources.cpu", cpu, "must not be negative")
    if isinstance(memory, str) and not _MEMORY_RE.match(memory):
        schema_range(ctx, f"{path}.memory", "resources.memory", memory, f"must match {_MEMORY}")
    if (isinstance(gpu, str) and not _DIGITS_RE.match(gpu)) or (isinstance(gpu, int) and gpu < 0):
        schema_range(ctx, f"{path}.gpu", "resources.gpu", gpu, "must be a non-negative integer")
