"""Turning what a user submits into a ``WorkflowSubmitted`` event (SPEC §6.1, §13.4).

Order: parse and decode, resolve template references, apply defaults, validate, apply
submit-time arguments. Any error rejects the submission with a ``ValidationError`` and
nothing is written. Warnings travel in the event.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from typing import Any

from attrs import frozen

from aether.events.catalog import WorkflowSubmitted
from aether.expr import check_expression
from aether.model import apply_submit_arguments, dump_document, load_document, load_file
from aether.model.defaults import DEFAULT_NAMESPACE
from aether.model.json_value import JSON
from aether.model.limits import Limits
from aether.model.problems import Problem, ValidationError
from aether.model.refs import no_templates
from aether.model.storable import INT_MAX, INT_MIN, UNSTORABLE, storable_problem
from aether.model.types import KIND_WORKFLOW, Workflow, WorkflowTemplate

TemplateLookup = Callable[[str, str], WorkflowTemplate | None]


@frozen
class PreparedDocument:
    """A validated resource to store (a CronWorkflow, a WorkflowTemplate): its wire
    document and the warnings to show."""

    document: dict[str, JSON]
    warnings: tuple[Problem, ...]

    @property
    def name(self) -> str:
        name: str = self.document["metadata"]["name"]
        return name

    @property
    def namespace(self) -> str:
        namespace: str = self.document["metadata"].get("namespace") or DEFAULT_NAMESPACE
        return namespace


@frozen
class PreparedRun:
    workflow: Workflow
    document: dict[str, JSON]
    warnings: tuple[Problem, ...]
    templates_snapshot: dict[str, JSON]


def load_workflow(
    source: str | bytes | os.PathLike[str] | Mapping[str, JSON] | Workflow,
    *,
    limits: Limits,
    strict: bool = False,
    executor_checks: Mapping[str, Callable[[dict[str, JSON] | None], list[str]]] | None = None,
    template_lookup: TemplateLookup | None = None,
    source_name: str | None = None,
    arguments: Mapping[str, JSON] | None = None,
    variable_namespaces: Collection[str] = (),
) -> PreparedRun:
    """Load, resolve, default and validate a Workflow; raise ``ValidationError`` on errors.

    ``source`` is a path, document text, an already-parsed mapping, or a ``Workflow``.
    ``variable_namespaces`` are those of the variable sources the run will read.
    References are always resolved: without ``template_lookup`` against an empty store,
    so a reference that names nothing is ``E-TEMPLATE-REF-NOT-FOUND`` here, never a run
    that cannot find its template.
    """
    kwargs: dict[str, Any] = {
        "limits": limits,
        "strict": strict,
        "executor_checks": executor_checks,
        "expression_check": check_expression,
        "variable_namespaces": variable_namespaces,
        "template_lookup": template_lookup if template_lookup is not None else no_templates,
        "expected_kind": KIND_WORKFLOW,
    }
    if isinstance(source, os.PathLike):
        result = load_file(source, **kwargs)
        name = source_name or os.fspath(source)
    else:
        if isinstance(source, Workflow):
            source = dump_document(source)
        if isinstance(source, Mapping):
            import orjson

            unstorable = storable_problem(dict(source), limits)
            if unstorable is not None:
                problem = Problem(UNSTORABLE, "error", unstorable.path, unstorable.message)
                raise ValidationError([problem], source_name or "<input>")
            source = orjson.dumps(dict(source)).decode()
            kwargs["fmt"] = "json"
        name = source_name or "<input>"
        result = load_document(source, source_name=name, **kwargs)
    if result.document is None or not isinstance(result.document, Workflow):
        raise ValidationError(result.problems, name)
    workflow: Workflow = result.document
    problems = list(result.problems)
    if arguments:
        workflow, arg_problems = apply_submit_arguments(workflow, arguments, limits)
        problems.extend(arg_problems)
        if any(p.is_error for p in arg_problems):
            raise ValidationError(problems, name)
    return PreparedRun(workflow, dump_document(workflow), tuple(problems), dict(result.templates_snapshot))


def submitted_event(
    prepared: PreparedRun,
    *,
    run_id: str,
    at: str,
    variables: Mapping[str, JSON],
    limits: Limits,
    arguments: Mapping[str, JSON] | None = None,
    idempotency_key: str | None = None,
    cron: Mapping[str, JSON] | None = None,
    origin: Mapping[str, JSON] | None = None,
) -> WorkflowSubmitted:
    return WorkflowSubmitted(
        run_id=run_id,
        at=at,
        document=prepared.document,
        arguments=dict(arguments or {}),
        variables=dict(variables),
        warnings=tuple(f"{p.path}: {p.code}: {p.message}" for p in prepared.warnings),
        idempotency_key=idempotency_key,
        cron=dict(cron) if cron is not None else None,
        limits=limits.to_json(),
        templates_snapshot=prepared.templates_snapshot,
        origin=dict(origin) if origin is not None else None,
    )


def parse_argument(text: str) -> tuple[str, JSON]:
    """``NAME=VALUE`` from the command line: VALUE is JSON when it parses as JSON, else text.
    An integer the log cannot store is refused, as in a document (SPEC §3.2): the JSON
    parser would otherwise turn it into a float and lose its digits silently."""
    import orjson

    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f'argument "{text}" must look like NAME=VALUE')
    try:
        value: JSON = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return name.strip(), raw
    wide = _unstorable_integer(raw)
    if wide is not None:
        shown = wide if len(wide) <= 24 else f"of {len(wide.lstrip('-'))} digits"
        raise ValueError(
            f'argument "{name.strip()}": integer {shown} is outside the range the log stores ({INT_MIN} to {INT_MAX})'
        )
    return name.strip(), value


def _unstorable_integer(raw: str) -> str | None:
    """The first integer literal of the JSON text ``raw`` outside the range the log
    stores, as written, or None."""
    import json

    found: list[str] = []

    def integer(literal: str) -> int:
        # JSON forbids leading zeros, so more than 20 digits is beyond 2**64 - 1; such a
        # literal is never converted, however long it is.
        if len(literal.lstrip("-")) > 20 or not INT_MIN <= int(literal) <= INT_MAX:
            found.append(literal)
        return 0

    try:
        json.loads(raw, parse_int=integer)
    except (ValueError, RecursionError):  # what orjson parsed but this parser refuses
        return None
    return found[0] if found else None
