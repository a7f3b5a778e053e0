"""W-RETRY-NOT-FAILED: a retry limit without an expression retries only Error and Timeout
(SPEC §9.1 rule 4), so a shell or script command that exits non-zero is not retried; the
validator says so where the user wrote the retry."""

from __future__ import annotations

from typing import Any

import pytest
from model_helpers import load, workflow
from support.documents import dag, dag_task, executor, task

pytestmark = pytest.mark.spec("3.3.5", "9.1")

CODE = "W-RETRY-NOT-FAILED"


def _with_retry(retry: dict[str, Any], *, kind: str = "shell", inline: bool = True) -> dict[str, Any]:
    run = executor(kind, command="exit 1") if kind == "shell" else executor(kind)
    if inline:
        return workflow("demo", dag("main", dag_task("a", executor=run, retry=retry)))
    return workflow("demo", dag("main", dag_task("a", "work", retry=retry)), task("work", run))


def _codes(doc: dict[str, Any]) -> list[str]:
    return [p.code for p in load(doc).problems]


@pytest.mark.parametrize("inline", [True, False])
@pytest.mark.parametrize("kind", ["shell", "script"])
def test_a_command_with_a_limit_and_no_expression_is_warned(kind: str, inline: bool) -> None:
    result = load(_with_retry({"limit": 3}, kind=kind, inline=inline))
    (problem,) = [p for p in result.problems if p.code == CODE]
    assert problem.severity == "warning"
    assert problem.path == "$.spec.templates[0].dag.tasks[0].retry"
    assert problem.message == (
        f'task "a": retry without an expression retries only Error and Timeout, not a {kind} command '
        'that exits non-zero (Failed); add expression: "true" to retry every failure'
    )


@pytest.mark.parametrize("retry", [{"limit": 3, "expression": "true"}, {"limit": 0}, {"expression": "true"}, {}])
def test_no_warning_with_an_expression_or_without_a_limit(retry: dict[str, Any]) -> None:
    assert CODE not in _codes(_with_retry(retry))


@pytest.mark.parametrize("kind", ["echo", "http", "python", "await"])
def test_no_warning_for_executors_that_do_not_exit(kind: str) -> None:
    assert CODE not in _codes(_with_retry({"limit": 3}, kind=kind, inline=False))
