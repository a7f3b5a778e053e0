"""Result size limits (SPEC §3.2 ``L-VALUE`` and ``L-RESULT``, §7.5 step 1): a result whose
parameters are too large is replaced by code 3, ``result exceeds size limit``, no
parameters, so the attempt ends ``Error``, never ``Failed``. Sizes are bytes of compact
JSON: a value of exactly the limit is accepted, one byte more is not.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from aether.events import catalog as ev
from aether.events.values import ResultParameter
from aether.model.limits import DEFAULT_LIMITS, Limits
from tests.scheduler.scheduler_support import DecidedRun, dag, outputs_of, param, task, workflow

pytestmark = pytest.mark.spec("3.2", "7.5")

JSON = Any
TOO_LARGE = "result exceeds size limit"
L_VALUE = 256 * 1024
L_RESULT = 1024 * 1024


def text_of_json_size(size: int, unit: str = "x") -> str:
    """A string whose compact JSON (quotes included) is exactly ``size`` bytes; ``unit`` may
    be a multi-byte character, so the limit is seen to count bytes, not characters."""
    width = len(unit.encode())
    count, rest = divmod(size - 2, width)
    text = unit * count + "y" * rest
    assert len(orjson.dumps(text)) == size
    return text


def parameters_of_json_size(size: int, count: int = 5) -> list[ResultParameter]:
    """``count`` string parameters whose list, as the worker reports it
    (``[{"name": …, "value": …}, …]``), is exactly ``size`` bytes of compact JSON."""
    names = [f"p{i}" for i in range(count)]
    empty = len(orjson.dumps([{"name": n, "value": ""} for n in names]))
    share, extra = divmod(size - empty, count)
    params = [param(n, "x" * (share + (extra if i == 0 else 0))) for i, n in enumerate(names)]
    assert len(orjson.dumps([p.to_wire() for p in params])) == size
    return params


def reported(parameters: list[ResultParameter], *, code: int = 0, limits: Limits = DEFAULT_LIMITS) -> DecidedRun:
    run = DecidedRun(workflow("main", task("main")), limits=limits)
    run.start("main")
    run.report("main", code, "done", parameters)
    return run


def assert_rejected(run: DecidedRun) -> None:
    recorded = run.recorded("main")
    assert (recorded.code, recorded.phase, recorded.outputs) == (3, "Error", ())
    assert recorded.message.startswith(TOO_LARGE + ": ")
    completed = run.completed("main")
    assert (completed.phase, completed.message, completed.outputs) == ("Error", recorded.message, ())
    assert run.run.phase == "Error"


def assert_accepted(run: DecidedRun, parameters: list[ResultParameter]) -> None:
    recorded = run.recorded("main")
    assert (recorded.code, recorded.phase, recorded.message) == (0, "Succeeded", "done")
    assert outputs_of(recorded) == {p.name: p.value for p in parameters}


def test_the_defaults_are_the_ones_the_spec_names() -> None:
    assert (DEFAULT_LIMITS.value_bytes, DEFAULT_LIMITS.result_bytes) == (L_VALUE, L_RESULT)


@pytest.mark.parametrize("unit", ["x", "é", "€"])
def test_a_value_of_exactly_l_value_bytes_is_accepted(unit: str) -> None:
    parameters = [param("big", text_of_json_size(L_VALUE, unit))]
    assert_accepted(reported(parameters), parameters)


@pytest.mark.parametrize("unit", ["x", "é", "€"])
def test_a_value_one_byte_over_l_value_is_an_error(unit: str) -> None:
    assert_rejected(reported([param("big", text_of_json_size(L_VALUE + 1, unit))]))


def test_l_value_applies_to_any_json_value_not_only_strings() -> None:
    element = orjson.dumps({"k": "v"})  # 9 bytes, plus a comma between elements
    count = (L_VALUE - 1) // (len(element) + 1)
    value = [{"k": "v"}] * count
    assert len(orjson.dumps(value)) <= L_VALUE
    assert_accepted(reported([param("rows", value)]), [param("rows", value)])
    over = [*value, {"k": "v"}]
    assert len(orjson.dumps(over)) > L_VALUE
    assert_rejected(reported([param("rows", over)]))


def test_a_result_of_exactly_l_result_bytes_is_accepted() -> None:
    parameters = parameters_of_json_size(L_RESULT)
    assert all(len(orjson.dumps(p.value)) < L_VALUE for p in parameters)
    assert_accepted(reported(parameters), parameters)


def test_a_result_one_byte_over_l_result_is_an_error_though_every_value_fits() -> None:
    parameters = parameters_of_json_size(L_RESULT + 1)
    assert all(len(orjson.dumps(p.value)) < L_VALUE for p in parameters)
    assert_rejected(reported(parameters))


def test_l_result_counts_the_parameter_names_too() -> None:
    # Many small values under long names: the values alone are far below the limit.
    name = "n" * 1000
    parameters = [param(f"{name}{i}", i) for i in range(1100)]
    assert sum(len(orjson.dumps(p.value)) for p in parameters) < L_RESULT // 100
    assert len(orjson.dumps([p.to_wire() for p in parameters])) > L_RESULT
    assert_rejected(reported(parameters))


def test_the_configured_limits_recorded_at_submit_are_the_ones_applied() -> None:
    limits = Limits(value_bytes=16, result_bytes=64)
    fits = [param("a", text_of_json_size(16))]
    assert_accepted(reported(fits, limits=limits), fits)
    assert_rejected(reported([param("a", text_of_json_size(17))], limits=limits))
    assert_accepted(reported(parameters_of_json_size(64, count=2), limits=limits), parameters_of_json_size(64, 2))
    assert_rejected(reported(parameters_of_json_size(65, count=2), limits=limits))


@pytest.mark.parametrize("code", [0, 1, 2, 4])
def test_an_oversized_result_is_an_error_whatever_code_the_worker_reported(code: int) -> None:
    assert_rejected(reported([param("big", text_of_json_size(L_VALUE + 1))], code=code))


def test_phase_conditions_see_the_replacement_code_three() -> None:
    document = workflow(
        "main",
        task(
            "main", phaseConditions={"succeeded": "code == 0", "failed": f"code == 3 && startsWith(msg, '{TOO_LARGE}')"}
        ),
    )
    run = DecidedRun(document)
    run.start("main")
    run.report("main", 0, "done", [param("big", text_of_json_size(L_VALUE + 1))])
    assert run.recorded("main").phase == "Failed"


def test_an_oversized_result_is_retried_as_an_error_by_default() -> None:
    document = workflow("main", dag("main", [{"name": "a", "template": "work", "retry": {"limit": 1}}]), task("work"))
    run = DecidedRun(document)
    run.start("main/a")
    run.report("main/a", 0, "done", [param("big", text_of_json_size(L_VALUE + 1))])
    assert run.recorded("main/a").phase == "Error"
    assert run.last(ev.RetryScheduled, "main/a").next_attempt == 2
    run.finish("main/a", 0, "small", ok=True)
    assert outputs_of(run.completed("main/a")) == {"ok": True}


def test_the_message_names_the_output_and_the_limit_it_exceeds() -> None:
    run = reported([param("big", text_of_json_size(L_VALUE + 1))])
    assert run.recorded("main").message == (
        f'{TOO_LARGE}: output "big" is {L_VALUE + 1} bytes as JSON, over L-VALUE ({L_VALUE} bytes)'
    )
    run = reported(parameters_of_json_size(L_RESULT + 1))
    assert run.recorded("main").message == (
        f"{TOO_LARGE}: the outputs are {L_RESULT + 1} bytes as JSON, over L-RESULT ({L_RESULT} bytes)"
    )


def test_a_reported_value_nested_past_l_value_depth_is_refused_like_an_oversized_one() -> None:
    # The codec would take it (it nests below its own ceiling); the rule does not.
    value: JSON = 0
    for _ in range(DEFAULT_LIMITS.value_depth + 1):
        value = [value]
    run = reported([param("deep", value)])
    recorded = run.recorded("main")
    assert (recorded.code, recorded.phase, recorded.outputs) == (3, "Error", ())
    assert recorded.message.startswith('result cannot be stored: output "deep" at $')
    assert "L-VALUE-DEPTH (100 levels)" in recorded.message
