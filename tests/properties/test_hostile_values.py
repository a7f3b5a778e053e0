"""``validate`` and ``run`` agree, and nothing a document, a task or an expression holds
stops the engine (SPEC §3.2 storable values and limits, §14.1).

1. Whatever ``aether validate`` accepts (the loader it uses), submit accepts and the run
   is recorded to its end; whatever validation rejects, submit rejects with the same
   problems and writes nothing.
2. Fuzz: hostile documents, task outputs (an executor returning generated values, and a
   worker outside the process reporting them unchecked) and expressions through
   validate, submit and a pump-driven engine with a fake clock and an in-memory log: no
   exception escapes, every run reaches a terminal phase within a bounded number of
   rounds, and a healthy run beside it succeeds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hostile_values import expressions, hostile_values
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support.documents import dag, echo_task, parameters, workflow

from aether.events.assignment import TaskAssignment
from aether.events.values import ResultParameter
from aether.expr import check_expression
from aether.model.loader import load_document
from aether.model.problems import ValidationError
from aether.runtime.clock import FakeClock
from aether.runtime.engine import Engine
from aether.runtime.executors import builtin_executors, config_checks
from aether.runtime.executors.base import ExecContext, ExecResult
from aether.runtime.worker import run_assignment

pytestmark = pytest.mark.spec("3.2", "2.1", "14.1", "6.4")

TERMINAL = {"Succeeded", "Failed", "Error", "Timeout", "Skipped", "Omitted", "Cancelled"}
MAX_ROUNDS = 50
HEALTHY = workflow("healthy", dag("main", echo_task("a")))
FUZZ = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)


def document_text(value: Any, key: str, expression: str | None) -> str | None:
    """The document as JSON text, as a user would write it; None when even Python's JSON
    writer cannot write it (nesting past its own recursion)."""
    task_fields: dict[str, Any] = {"arguments": parameters({"v": value})}
    if expression is not None:
        task_fields["when"] = expression
    document = workflow(
        "hostile",
        dag("main", echo_task("a", **task_fields), echo_task("b", dependencies=["a"])),
        arguments=parameters({"p": value}),
    )
    document["metadata"]["annotations"] = {key: "x"}
    try:
        return json.dumps(document)
    except (RecursionError, ValueError):
        return None


class Outputs:
    """An executor answering with the generated parameters."""

    type = "hostile"

    def __init__(self, params: tuple[ResultParameter, ...], message: str) -> None:
        self.params = params
        self.message = message

    def validate_config(self, config: Any) -> list[Any]:
        return []

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        return ExecResult(0, self.message, self.params)


def engine(executors: dict[str, Any] | None = None) -> Engine:
    return Engine(workers=0, executors=executors, clock=FakeClock(datetime(2026, 1, 1, tzinfo=UTC)))


def drive(engine: Engine, executors: dict[str, Any], *, unchecked: ExecResult | None = None) -> None:
    """Pump and work every assignment until nothing is left, within MAX_ROUNDS rounds.
    ``unchecked``: the hostile executor's result is reported as it is, as a worker
    outside this process might, instead of through the worker runtime."""
    for _ in range(MAX_ROUNDS):
        engine.pump()
        assignment = engine.broker.fetch("w", None, timeout=0)
        if assignment is None:
            return
        if unchecked is not None and assignment.executor_type == "hostile":
            report = unchecked.report(assignment, "w")
        else:
            report = run_assignment(assignment, executors).report(assignment, "w")
        engine.broker.report_result(report)
    raise AssertionError(f"assignments still pending after {MAX_ROUNDS} rounds")


def assert_ends(engine: Engine, *run_ids: str) -> None:
    for run_id in run_ids:
        assert engine.get_state(run_id).phase in TERMINAL, run_id


def validate(text: str) -> tuple[tuple[str, str], ...] | None:
    """What ``aether validate`` reports: None when valid, else the errors."""
    checks = config_checks(builtin_executors())
    result = load_document(text, executor_checks=checks, expression_check=check_expression)
    return None if result.ok else tuple((p.code, p.path) for p in result.errors)


@given(value=hostile_values, key=st.sampled_from(["k", "\ud800", "é"]), expression=st.none() | expressions)
@FUZZ
def test_what_validate_accepts_runs_and_what_it_rejects_submit_rejects_writing_nothing(
    value: Any, key: str, expression: str | None
) -> None:
    text = document_text(value, key, expression)
    if text is None:
        return
    verdict = validate(text)
    event("rejected" if verdict is not None else "accepted")
    run = engine()
    if verdict is not None:
        with pytest.raises(ValidationError) as refused:
            run.submit(text)
        assert tuple((p.code, p.path) for p in refused.value.errors) == verdict
        assert run.log.last_position() == 0
        return
    run_id = run.submit(text).run_id
    healthy = run.submit(HEALTHY).run_id
    drive(run, builtin_executors())
    assert_ends(run, run_id, healthy)
    assert run.get_state(healthy).phase == "Succeeded"


result_parameters = st.lists(
    st.builds(ResultParameter, st.sampled_from(["v", "w", "\ud800", ""]), hostile_values), max_size=3
).map(tuple)


@given(params=result_parameters, message=st.sampled_from(["", "ok", "\ud800", "x" * 70_000]), raw=st.booleans())
@FUZZ
def test_hostile_task_outputs_end_their_run_and_leave_the_others_alone(
    params: tuple[ResultParameter, ...], message: str, raw: bool
) -> None:
    document = workflow(
        "w", dag("main", {"name": "a", "executor": {"type": "hostile"}}, echo_task("b", dependencies=["a"]))
    )
    executors: dict[str, Any] = {**builtin_executors(), "hostile": Outputs(params, message)}
    run = engine(executors)
    run_id = run.submit(document).run_id
    healthy = run.submit(HEALTHY).run_id
    drive(run, executors, unchecked=ExecResult(0, message, params) if raw else None)
    assert_ends(run, run_id, healthy)
    assert run.get_state(healthy).phase == "Succeeded"


def test_a_report_nested_past_the_limit_from_an_outside_worker_ends_only_its_run() -> None:
    document = workflow("w", dag("main", {"name": "a", "executor": {"type": "hostile"}}))
    value: Any = 0
    for _ in range(150):
        value = [value]
    executors: dict[str, Any] = {**builtin_executors(), "hostile": Outputs((), "")}
    run = engine(executors)
    run_id = run.submit(document).run_id
    healthy = run.submit(HEALTHY).run_id
    drive(run, executors, unchecked=ExecResult(0, "", (ResultParameter("v", value),)))
    assert run.get_state(run_id).phase == "Error"
    assert "L-VALUE-DEPTH" in run.get_state(run_id).node("main/a").message
    assert run.get_state(healthy).phase == "Succeeded"
