"""Edges of binding (SPEC §4.4), of the ``tasks.*`` view (§4.2, §5.3) and of the cron decider's
inputs that the broader scheduler tests do not pin down."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from aether.events import catalog as ev
from aether.model.limits import DEFAULT_LIMITS
from aether.model.types import Parameter, ValueFrom
from aether.scheduler.binding import bind
from aether.scheduler.cron import decide_cron
from aether.scheduler.effects import StartRun
from tests.cron.cron_helpers import cron_doc, registered, tick
from tests.scheduler.scheduler_support import DecidedRun, dag, loop, task, workflow

JSON = Any


def bound_values(declarations: list[Parameter], arguments: list[Parameter], env: dict[str, JSON]) -> dict[str, JSON]:
    params, _warnings = bind(declarations, arguments, env, DEFAULT_LIMITS)
    return {p.name: p.value for p in params}


# --- binding (§4.4) ---------------------------------------------------------------------------


def test_an_argument_whose_value_from_fails_falls_back_to_the_declared_default() -> None:
    declarations = [Parameter(name="p", default="fallback")]
    arguments = [Parameter(name="p", value_from=ValueFrom(parameter="workflow.parameters.missing"))]
    params, warnings = bind(declarations, arguments, {}, DEFAULT_LIMITS)
    assert [(p.name, p.value) for p in params] == [("p", "fallback")]
    assert any('"p"' in warning for warning in warnings)


def test_an_argument_whose_value_from_fails_without_a_default_binds_no_value() -> None:
    declarations = [Parameter(name="p")]
    arguments = [Parameter(name="p", value_from=ValueFrom(parameter="workflow.parameters.missing"))]
    params, _warnings = bind(declarations, arguments, {}, DEFAULT_LIMITS)
    assert [(p.name, p.has_value) for p in params] == [("p", False)]


def test_a_small_scalar_from_value_from_is_bound_not_rejected_as_too_large() -> None:
    declarations = [Parameter(name="n", value_from=ValueFrom(expression="6 * 7"))]
    assert bound_values(declarations, [], {}) == {"n": 42}


# --- the tasks.* view (§4.2, §5.3) ------------------------------------------------------------


def test_a_tasks_key_without_a_field_never_reads_a_task_whose_name_is_a_prefix() -> None:
    # "tasks.phase" names no task field; it must stay unresolved (its own text, §5.3) even
    # though a task named "phas" exists, so the when below is false and "b" is skipped.
    document = workflow(
        "main",
        dag(
            "main",
            [
                {"name": "phas", "template": "work"},
                {"name": "b", "template": "work", "dependencies": ["phas"], "when": "tasks.phase == 'Succeeded'"},
            ],
        ),
        task("work"),
    )
    run = DecidedRun(document)
    run.finish("main/phas")
    assert run.phase("main/b") == "Skipped"


# --- the cron decider's inputs (§12.2) --------------------------------------------------------


def test_the_cron_decider_refuses_an_event_that_is_not_a_cron_input() -> None:
    state = registered(cron_doc("nightly", "*/5 * * * *"))
    with pytest.raises(ValueError, match="not an input of a cron"):
        decide_cron(state, ev.TimerFired("workflow", "2026-03-01T10:05:00Z"))


# --- run and loop size limits (§3.2, §8.1) ----------------------------------------------------

THREE_TASKS = workflow(
    "main",
    dag("main", [{"name": name, "template": "work"} for name in ("a", "b", "c")]),
    task("work"),
)


def test_a_run_that_would_exceed_the_node_limit_ends_in_error() -> None:
    # The entry DAG is one node; its three children would make four.
    run = DecidedRun(THREE_TASKS, limits=attrs.evolve(DEFAULT_LIMITS, nodes_per_run=3))
    assert (run.run.phase, run.run.message) == ("Error", "node limit exceeded")


def test_a_run_that_reaches_the_node_limit_exactly_goes_on() -> None:
    run = DecidedRun(THREE_TASKS, limits=attrs.evolve(DEFAULT_LIMITS, nodes_per_run=4))
    assert run.run.phase == "Ready"
    assert [run.phase(f"main/{name}") for name in ("a", "b", "c")] == ["Ready"] * 3


def test_a_loop_expanding_past_the_iteration_limit_ends_in_error() -> None:
    document = workflow("main", loop("main", "work", items=[1, 2, 3]), task("work"))
    run = DecidedRun(document, limits=attrs.evolve(DEFAULT_LIMITS, loop_iterations=2))
    assert run.phase("main") == "Error"
    assert run.completed("main").message == 'expand loop "main": 3 iterations; the limit is 2'


def test_a_cron_run_is_started_under_its_idempotency_key() -> None:
    # The outbox performs each effect once per key: a tick's run must be keyed like its submit.
    state = registered(cron_doc("nightly", "*/5 * * * *"))
    decision = decide_cron(state, tick("2026-03-01T10:05:02.500Z", "2026-03-01T10:05:00Z"))
    (start,) = (effect for effect in decision.effects if isinstance(effect, StartRun))
    assert start.key == start.idempotency_key == "cron:default/nightly@2026-03-01T10:05:00.000Z"


# --- DAG readiness (§7.3) ---------------------------------------------------------------------


def test_a_dependency_listed_twice_is_waited_for_once() -> None:
    document = workflow(
        "main",
        dag("main", [{"name": "a", "template": "work"}, {"name": "b", "template": "work", "dependencies": ["a", "a"]}]),
        task("work"),
    )
    run = DecidedRun(document)
    run.finish("main/a")
    assert run.phase("main/b") == "Ready"
