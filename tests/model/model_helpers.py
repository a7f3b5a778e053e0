"""Shared builders for the model tests: a small valid document and ways to load it.

The model's entry points require the expression checks from their caller (the model
cannot import the expression layer); :func:`load_document`, :func:`load_file` and
:func:`validate` here are those entry points with the real ``aether.expr`` checks
unless a test passes its own ``expression_check``.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from typing import Any

from support.documents import cron_workflow, dag_task, executor, task, workflow
from support.documents import dag as dag_template

from aether import model
from aether.expr import check_expression
from aether.model import LoadResult, Problem
from aether.model.types import Document

BUILTIN = ("echo", "shell", "script", "python", "http", "await")
CHECKS: dict[str, Callable[[dict | None], list[str]]] = {kind: (lambda _c: []) for kind in BUILTIN}


def load_document(text: str | bytes, **kwargs: Any) -> LoadResult:
    """:func:`aether.model.load_document`, with the real expression checks by default."""
    kwargs.setdefault("expression_check", check_expression)
    return model.load_document(text, **kwargs)


def load_file(path: str | os.PathLike[str], **kwargs: Any) -> LoadResult:
    """:func:`aether.model.load_file`, with the real expression checks by default."""
    kwargs.setdefault("expression_check", check_expression)
    return model.load_file(path, **kwargs)


def validate(document: Document, **kwargs: Any) -> list[Problem]:
    """:func:`aether.model.validate`, with the real expression checks by default."""
    kwargs.setdefault("expression_check", check_expression)
    return model.validate(document, **kwargs)


def base() -> dict[str, Any]:
    """A valid Workflow: DAG ``main`` (a, b -> a) over task template ``work``."""
    return workflow("demo", *_demo_templates())


def cron_base() -> dict[str, Any]:
    """The templates of :func:`base`, started every hour by the CronWorkflow ``nightly``."""
    return cron_workflow("nightly", "0 * * * *", *_demo_templates())


def _demo_templates() -> list[dict[str, Any]]:
    return [
        dag_template("main", dag_task("a", "work"), dag_task("b", "work", dependencies=["a"])),
        task("work", executor("echo")),
    ]


def with_changes(change: Callable[[dict[str, Any]], object], doc: dict[str, Any] | None = None) -> dict[str, Any]:
    out = copy.deepcopy(doc if doc is not None else base())
    change(out)
    return out


# ``load`` and ``load_changed`` return ``Any`` on purpose: tests walk optional chains
# (``result.document.spec.templates[0]``) that a failed assertion would report anyway.


def load(doc: dict[str, Any] | str, **kwargs: Any) -> Any:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    kwargs.setdefault("executor_checks", CHECKS)
    return load_document(text, **kwargs)


def load_changed(change: Callable[[dict[str, Any]], object], **kwargs: Any) -> Any:
    return load(with_changes(change), **kwargs)


def dag(doc: dict[str, Any]) -> dict[str, Any]:
    dag_template: dict[str, Any] = doc["spec"]["templates"][0]["dag"]
    return dag_template


def tasks(doc: dict[str, Any]) -> list[dict[str, Any]]:
    task_list: list[dict[str, Any]] = dag(doc)["tasks"]
    return task_list


def add_template(doc: dict[str, Any], template: dict[str, Any]) -> None:
    doc["spec"]["templates"].append(template)


def codes(result: LoadResult) -> list[tuple[str, str]]:
    return [(p.code, p.path) for p in result.problems]


def the(result: LoadResult, code: str) -> Problem:
    """The single problem with ``code``."""
    found = [p for p in result.problems if p.code == code]
    assert len(found) == 1, f"expected one {code}, got {[(p.code, p.path, p.message) for p in result.problems]}"
    return found[0]


def assert_problem(result: LoadResult, code: str, path: str, message: str | None = None) -> Problem:
    found = [p for p in result.problems if p.code == code and p.path == path]
    assert found, f"no {code} at {path}; got {[(p.code, p.path, p.message) for p in result.problems]}"
    if message is not None:
        assert any(p.message == message for p in found), [p.message for p in found]
    return found[0]


def assert_clean(result: LoadResult) -> None:
    assert result.ok and not result.problems, [(p.code, p.path, p.message) for p in result.problems]
