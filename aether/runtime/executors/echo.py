"""The ``echo`` executor: the reference contract of SPEC §14.2, which the whole upstream
conformance suite runs on. Pure: it reads only the inputs and ``retryCount``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aether.events.assignment import TaskAssignment
from aether.events.values import BoundParameter, ResultParameter
from aether.model.json_value import JSON
from aether.model.problems import Problem
from aether.runtime.executors.base import (
    CODE_FAILED,
    CODE_SUSPENDED,
    ExecContext,
    ExecResult,
)

RESUMED = "__resumed"
SUSPEND = "suspend"
FAIL_COUNT = "fail-count"
OUTPUTS = "outputs"
CONTROLS = frozenset({RESUMED, SUSPEND, FAIL_COUNT, OUTPUTS})

# The declared output types echo knows, with their zero values; any other type is "string".
ZERO_VALUES: dict[str, JSON] = {"int": 0, "bool": False, "string": "", "array": [], "object": {}}

_MISSING: Any = object()


class EchoExecutor:
    type = "echo"

    def validate_config(self, config: Mapping[str, JSON] | None) -> list[Problem]:
        return []  # echo ignores its config

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        return echo(request.inputs, request.retry_count)


def echo(inputs: tuple[BoundParameter, ...], retry_count: int) -> ExecResult:
    controls: dict[str, BoundParameter] = {}
    echoed: list[ResultParameter] = []
    for param in inputs:
        if param.name in CONTROLS:
            controls[param.name] = param  # a repeated control: the last one counts, as in the reference
        else:
            echoed.append(ResultParameter(param.name, param.value, param.has_value, param.type))

    suspend = _value(controls.get(SUSPEND)) is True
    if suspend and RESUMED not in controls:
        return ExecResult(CODE_SUSPENDED, "suspended; awaiting external resume signal")

    fail_count = _fail_count(_value(controls.get(FAIL_COUNT)))
    if fail_count > 0 and retry_count < fail_count:
        return ExecResult(CODE_FAILED, f"simulated failure on attempt {retry_count + 1} (failCount={fail_count})")

    # name → index of the parameter that a declaration of that name updates. Built like
    # the reference: a later input of the same name wins, and an appended declaration
    # is found by a later declaration of the same name.
    index = {param.name: i for i, param in enumerate(echoed)}
    for declaration in _declarations(_value(controls.get(OUTPUTS))):
        name = declaration["name"]
        declared_type = declaration.get("type")
        out_type = declared_type if isinstance(declared_type, str) and declared_type in ZERO_VALUES else "string"
        # "Has a value" as everywhere in SPEC §4.1: present and not null.
        value = declaration.get("value")
        if value is None:
            value = _MISSING
        at = index.get(name)
        if at is not None:
            current = echoed[at]
            if value is _MISSING:
                echoed[at] = ResultParameter(name, current.value, current.has_value, out_type)
            else:
                echoed[at] = ResultParameter(name, value, True, out_type)
        else:
            index[name] = len(echoed)
            if value is _MISSING:
                value = _zero(out_type)
            echoed.append(ResultParameter(name, value, True, out_type))
    return ExecResult(parameters=tuple(echoed))


def _value(param: BoundParameter | None) -> JSON:
    if param is None or not param.has_value:
        return None
    return param.value


def _fail_count(value: JSON) -> int:
    # Only a JSON integer counts; bool is an int subclass in Python but not in JSON.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return 0


def _declarations(value: JSON) -> list[dict[str, JSON]]:
    if not isinstance(value, list):
        return []
    return [
        item for item in value if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"] != ""
    ]


def _zero(type_name: str) -> JSON:
    zero = ZERO_VALUES[type_name]
    # A fresh container per output: results must not share a mutable zero value.
    return type(zero)() if isinstance(zero, list | dict) else zero
