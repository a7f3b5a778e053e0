"""Workflow documents for tests, built in a line or two instead of twenty of nested literals.

Every builder returns plain dicts (a document as a user would write it in JSON), fresh on
each call, so a test may change what it gets. Keys a builder does not know go through
unchanged, spelled as the protocol spells them (``continueOn=...``, ``retry=...``)::

    workflow("w", dag("main", echo_task("a"), echo_task("b", dependencies=["a"])))

The keys come out in the order the protocol's examples write them (``apiVersion``,
``kind``, ``metadata``, ``spec``; ``entrypoint`` before ``templates``), which matters to
tests that edit a document's JSON text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

JSON = Any
Document = dict[str, JSON]

API_VERSION = "aether/v1"


def metadata(name: str, namespace: str | None = None, labels: dict[str, str] | None = None) -> dict[str, JSON]:
    out: dict[str, JSON] = {"name": name}
    if namespace is not None:
        out["namespace"] = namespace
    if labels is not None:
        out["labels"] = labels
    return out


def workflow_spec(*templates: dict[str, JSON], entrypoint: str = "main", **spec: JSON) -> dict[str, JSON]:
    """``spec`` of a Workflow (or ``workflowSpec`` of a CronWorkflow): ``entrypoint``, then
    the other fields (``arguments``, ``hooks``, …), then ``templates``."""
    return {"entrypoint": entrypoint, **spec, "templates": list(templates)}


def workflow(
    name: str,
    *templates: dict[str, JSON],
    entrypoint: str = "main",
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
    **spec: JSON,
) -> Document:
    """A ``Workflow`` named ``name`` whose entrypoint is ``main`` unless said otherwise."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Workflow",
        "metadata": metadata(name, namespace, labels),
        "spec": workflow_spec(*templates, entrypoint=entrypoint, **spec),
    }


def cron_workflow(
    name: str,
    schedule: str,
    *templates: dict[str, JSON],
    entrypoint: str = "main",
    namespace: str | None = None,
    **spec: JSON,
) -> Document:
    """A ``CronWorkflow`` starting a workflow of ``templates`` on ``schedule``; ``spec`` holds
    the cron's own fields (``timezone``, ``concurrencyPolicy``, …)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "CronWorkflow",
        "metadata": metadata(name, namespace),
        "spec": {"schedule": schedule, **spec, "workflowSpec": workflow_spec(*templates, entrypoint=entrypoint)},
    }


def workflow_template(name: str, *templates: dict[str, JSON]) -> Document:
    """A ``WorkflowTemplate``: a library of templates that ``templateRef`` points into."""
    return {
        "apiVersion": API_VERSION,
        "kind": "WorkflowTemplate",
        "metadata": {"name": name},
        "spec": {"templates": list(templates)},
    }


# --- templates ------------------------------------------------------------------------------


def dag(name: str, *tasks: dict[str, JSON], **fields: JSON) -> dict[str, JSON]:
    """A DAG template of ``tasks`` (see :func:`dag_task`)."""
    return {"dag": {"name": name, "tasks": list(tasks), **fields}}


def loop(name: str, body: str, **fields: JSON) -> dict[str, JSON]:
    """A loop template running the template ``body`` per item (``items=``, ``concurrency=``, …)."""
    return {"loop": {"name": name, "body": body, **fields}}


def task(name: str, executor: dict[str, JSON] | None = None, **fields: JSON) -> dict[str, JSON]:
    """A task template (a leaf), run by ``executor`` (see :func:`executor`)."""
    body: dict[str, JSON] = {"name": name}
    if executor is not None:
        body["executor"] = executor
    return {"task": {**body, **fields}}


# --- DAG tasks ------------------------------------------------------------------------------


def executor(type_: str, **config: JSON) -> dict[str, JSON]:
    """``{"type": type_}``, with ``config`` when there is any."""
    return {"type": type_, "config": config} if config else {"type": type_}


def dag_task(
    name: str,
    template: str | None = None,
    *,
    executor: dict[str, JSON] | None = None,
    dependencies: Iterable[str] = (),
    when: str | None = None,
    **fields: JSON,
) -> dict[str, JSON]:
    """One task of a DAG: it runs ``template``, or the inline ``executor``."""
    out: dict[str, JSON] = {"name": name}
    if template is not None:
        out["template"] = template
    if needs := list(dependencies):
        out["dependencies"] = needs
    if executor is not None:
        out["executor"] = executor
    if when is not None:
        out["when"] = when
    return {**out, **fields}


def echo_task(name: str, **fields: JSON) -> dict[str, JSON]:
    """A DAG task run inline by the ``echo`` executor."""
    return dag_task(name, executor=executor("echo"), **fields)


def shell_task(name: str, command: str, **fields: JSON) -> dict[str, JSON]:
    """A DAG task run inline by the ``shell`` executor."""
    return dag_task(name, executor=executor("shell", command=command), **fields)


def parameters(values: Mapping[str, JSON] | None = None, *, declared: Iterable[str] = ()) -> dict[str, JSON]:
    """``{"parameters": [...]}`` for ``inputs`` or ``arguments``: the ``declared`` names
    without a value, then ``values`` by name."""
    listed: list[dict[str, JSON]] = [{"name": name} for name in declared]
    listed += [{"name": name, "value": value} for name, value in (values or {}).items()]
    return {"parameters": listed}
