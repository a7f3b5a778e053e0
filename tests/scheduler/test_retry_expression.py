"""Warnings of ``retry.expression`` (SPEC §9.1 step 5, §5.8, §5.9, §5.10): an evaluation
error means no retry and a warning on the decision that ended the node; warnings of an
evaluation (``W-EXPR-UNRESOLVED``) are recorded on the event the decision made with it
(``RetryScheduled`` when it retried, ``NodeCompleted`` when it did not); a legacy
expression is reported at submit (``W-EXPR-LEGACY``) and evaluated the reference way.
"""

from __future__ import annotations

import pytest

from aether.events import catalog as ev
from tests.scheduler.scheduler_support import DecidedRun, dag, param, task, workflow

pytestmark = pytest.mark.spec("9.1", "5.8", "5.9", "5.10")

NODE = "main/a"


def retrying(expression: str, limit: int = 2) -> DecidedRun:
    site = {"name": "a", "template": "work", "retry": {"limit": limit, "expression": expression}}
    return DecidedRun(workflow("main", dag("main", [site]), task("work")))


@pytest.mark.parametrize(
    ("expression", "code"),
    [
        ("outputs.parameters.n / 0 > 1", "E-EXPR-DIV-ZERO"),
        ("retryCount", "E-EXPR-NOT-BOOLEAN"),
        ("tasks.a.outputs.parameters['missing'] == 1", "E-EXPR-UNDEFINED"),
    ],
)
def test_an_expression_that_fails_means_no_retry_and_a_recorded_warning(expression: str, code: str) -> None:
    run = retrying(expression)
    run.start(NODE)
    run.report(NODE, 3, "boom", [param("n", 4)])  # Error is retried by default: the failure must stop it
    assert not run.all(ev.RetryScheduled)
    completed = run.completed(NODE)
    assert completed.phase == "Error"
    assert any(w.startswith("retry.expression failed; no retry:") and code in w for w in completed.warnings), (
        completed.warnings
    )


def test_unresolved_names_warn_on_the_retry_it_scheduled() -> None:
    run = retrying("phase == Error")  # the reference form: ``Error`` is its own text
    run.finish(NODE, 3)
    scheduled = run.last(ev.RetryScheduled, NODE)
    assert any(w.startswith("W-EXPR-UNRESOLVED") and '"Error"' in w for w in scheduled.warnings)


def test_unresolved_names_warn_on_the_completion_when_there_is_no_retry() -> None:
    run = retrying("phase == Failed")
    run.finish(NODE, 3)
    assert not run.all(ev.RetryScheduled)
    completed = run.completed(NODE)
    assert completed.phase == "Error"
    assert any(w.startswith("W-EXPR-UNRESOLVED") and '"Failed"' in w for w in completed.warnings)


def test_a_clean_expression_records_no_warning() -> None:
    run = retrying("phase == 'Error' && retryCount < 1")
    run.finish(NODE, 3)
    assert run.last(ev.RetryScheduled, NODE).warnings == ()
    run.finish(NODE, 3)
    assert run.completed(NODE).warnings == ()


LEGACY = "msg == out of memory"


def test_a_legacy_expression_is_reported_at_submit() -> None:
    run = retrying(LEGACY)
    warnings = run.submitted.warnings
    assert any("dag.tasks[0].retry.expression" in w and "W-EXPR-LEGACY" in w for w in warnings), warnings


@pytest.mark.parametrize(("message", "retried"), [("out of memory", True), ("disk full", False)])
def test_a_legacy_expression_is_evaluated_the_reference_way(message: str, retried: bool) -> None:
    run = retrying(LEGACY)
    run.finish(NODE, 2, message)  # Failed: retried only because the expression says so
    assert bool(run.all(ev.RetryScheduled)) is retried
