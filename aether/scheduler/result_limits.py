"""Whether a task's reported parameters can be recorded (SPEC §3.2 ``L-VALUE``,
``L-RESULT``, ``L-VALUE-DEPTH``; §7.5 step 1). Pure: the worker runtime applies it where
it builds a result, and the decider applies it again to whatever a worker reported, so
a value the log cannot store never reaches an event from either side."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from aether.events.values import ResultParameter
from aether.model.limits import Limits
from aether.model.storable import printable, storable_problem

TOO_LARGE = "result exceeds size limit"
UNSTORABLE = "result cannot be stored"


def result_problem(params: Sequence[ResultParameter], limits: Limits) -> str | None:
    """Why ``params`` cannot be recorded, naming the output, the path inside its value and
    the rule or limit; None when they can."""
    for param in params:
        label = f'output "{printable(param.name)}"' if isinstance(param.name, str) else "an output"
        name_problem = storable_problem(param.name, limits) or storable_problem(param.type, limits)
        if name_problem is not None or not isinstance(param.name, str):
            detail = name_problem.message if name_problem is not None else "its name is not a string"
            return f"{UNSTORABLE}: {label}: {detail}"
        if not param.has_value:
            continue
        problem = storable_problem(param.value, limits)
        if problem is not None:
            return f"{UNSTORABLE}: {label} at {problem.path}: {problem.message}"
        size = len(orjson.dumps(param.value))
        if size > limits.value_bytes:
            return f"{TOO_LARGE}: {label} is {size} bytes as JSON, over L-VALUE ({limits.value_bytes} bytes)"
    if not params:
        return None
    total = len(orjson.dumps([param.to_wire() for param in params]))
    if total > limits.result_bytes:
        return f"{TOO_LARGE}: the outputs are {total} bytes as JSON, over L-RESULT ({limits.result_bytes} bytes)"
    return None
