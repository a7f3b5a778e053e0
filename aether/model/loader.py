"""Loading a document: text -> raw data -> classes -> references -> defaults ->
validation, with every problem of every step in one sorted list (SPEC §2, §3, §13).

This is the model layer's only contact with files (:func:`load_file`); everything else
here is pure.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from typing import Any

from attrs import evolve, field, frozen

from aether.model.decode import Decoder
from aether.model.defaults import apply_defaults
from aether.model.limits import DEFAULT_LIMITS, Limits
from aether.model.namespaces import known_namespaces
from aether.model.ordering import finalize
from aether.model.problems import Problem, error, has_errors, warning
from aether.model.refs import TemplateLookup, TemplateRefs, resolve_spec_ref, run_namespace, unresolved_references
from aether.model.schema import DOCUMENT_CLASSES
from aether.model.source import format_from_extension, parse_source
from aether.model.storable import UNSTORABLE, storable_problem
from aether.model.types import KIND_CRON, KIND_WORKFLOW, KINDS, Document, Workflow
from aether.model.validate import Context, run_rules
from aether.model.validate.context import ExecutorChecks, ExpressionCheck


@frozen
class LoadResult:
    # ``None`` when any problem is an error.
    document: Document | None
    problems: tuple[Problem, ...]
    # WorkflowTemplate name (``<namespace>/<name>`` outside the run's namespace) -> the
    # wire-form templates of each one the document referenced (§13.4); empty when none.
    templates_snapshot: dict[str, Any] = field(factory=dict)
    # Loaded without a lookup: the references the document makes, none of them checked.
    unchecked_references: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.document is not None

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if not p.is_error)


def _member(raw: Mapping[str, Any], name: str) -> Any:
    """A member by the key-case rule of §2.1 (the last spelling in document order wins)."""
    found = None
    for key, value in raw.items():
        if key.lower() == name:
            found = value
    return found


def _cron_shaped_as_workflow(raw: Mapping[str, Any]) -> bool:
    """§2.3 compatibility: kind CronWorkflow whose spec has an entrypoint and no schedule."""
    spec = _member(raw, "spec")
    if not isinstance(spec, dict):
        return False
    return _member(spec, "entrypoint") is not None and not _member(spec, "schedule")


def _kind_problem(kind: Any, expected_kind: str | None) -> Problem | None:
    shown = kind if isinstance(kind, str) else ""
    if kind in KINDS and (expected_kind is None or kind == expected_kind):
        return None
    suffix = f" (expected {expected_kind})" if expected_kind not in (None, KIND_WORKFLOW) else ""
    return error("E-KIND", "$.kind", f"unsupported kind: {shown}{suffix}")


def load_document(
    text: str | bytes,
    *,
    source_name: str = "<input>",
    fmt: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    strict: bool = False,
    executor_checks: ExecutorChecks | None = None,
    expression_check: ExpressionCheck,
    variable_namespaces: Collection[str] = (),
    template_lookup: TemplateLookup | None = None,
    expected_kind: str | None = None,
) -> LoadResult:
    """Parse, decode, resolve references, apply defaults and validate one document.

    ``source_name`` only labels the source for callers that keep results together;
    problems carry paths and positions, not file names. ``expression_check`` compiles
    the expression fields: the model cannot import the expression layer, so callers
    pass ``aether.expr.check_expression`` (see :class:`ExpressionCheck`).
    ``variable_namespaces`` are those of the caller's registered variable sources:
    expressions may read them besides the built-in ones (no W-EXPR-HYPHEN for them).
    """
    del source_name
    source, problems = parse_source(text, fmt=fmt, limits=limits)
    if source is None:
        return LoadResult(None, finalize(problems, strict=strict))
    raw = source.data
    unstorable = storable_problem(raw, limits)
    if unstorable is not None:
        # Nothing past this point may walk a value the log cannot hold (nesting beyond
        # L-VALUE-DEPTH would exhaust the stack of later steps): report it alone.
        problems.append(error(UNSTORABLE, unstorable.path, unstorable.message))
        return LoadResult(None, finalize(problems, raw=raw, locator=source.locator, strict=strict))
    kind = _member(raw, "kind")
    compat = kind == KIND_CRON and _cron_shaped_as_workflow(raw)
    # An unknown kind is decoded as a Workflow so that the rest is still checked.
    cls = DOCUMENT_CLASSES.get(kind, Workflow) if isinstance(kind, str) and not compat else Workflow
    decoder = Decoder(source.duplicates)
    doc: Document = decoder.decode(raw, cls)
    problems.extend(decoder.problems)
    if compat:
        doc = evolve(doc, kind=KIND_WORKFLOW)
        message = "CronWorkflow without schedule submitted as a Workflow"
        problems.append(warning("W-KIND-CRON-AS-WORKFLOW", "$.kind", message))
        kind = KIND_WORKFLOW
    kind_problem = _kind_problem(kind, expected_kind)
    if kind_problem is not None:
        problems.append(kind_problem)
    refs: TemplateRefs | None = None
    unchecked = unresolved_references(doc) if template_lookup is None else ()
    if template_lookup is not None:
        refs = TemplateRefs(template_lookup, run_namespace(doc))
        if isinstance(doc, Workflow) and doc.spec is not None:
            spec, ref_problems = resolve_spec_ref(doc.spec, refs.namespace, refs)
            doc = evolve(doc, spec=spec)
            problems.extend(ref_problems)
    doc = apply_defaults(doc)
    ctx = Context(
        limits,
        executor_checks,
        refs,
        expression_check=expression_check,
        namespaces=known_namespaces(variable_namespaces),
    )
    run_rules(doc, ctx, check_kind=False)
    problems.extend(ctx.problems)
    final = finalize(problems, raw=raw, locator=source.locator, strict=strict)
    if has_errors(final):
        return LoadResult(None, final, unchecked_references=unchecked)
    snapshot = refs.snapshot() if refs is not None else {}
    return LoadResult(doc, final, snapshot, unchecked)


def load_file(
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    strict: bool = False,
    executor_checks: ExecutorChecks | None = None,
    expression_check: ExpressionCheck,
    variable_namespaces: Collection[str] = (),
    template_lookup: TemplateLookup | None = None,
    expected_kind: str | None = None,
    source_name: str | None = None,
) -> LoadResult:
    """:func:`load_document` on a file; the format comes from the extension unless given.
    A file that cannot be read is the problem ``E-DOC-READ``, never an exception."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as handle:
            data = handle.read(limits.doc_bytes + 1)
            size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return LoadResult(None, (error("E-DOC-READ", "$", f"cannot read {name}: {reason}"),))
    if len(data) > limits.doc_bytes:
        message = f"document is {max(size, len(data))} bytes; the limit is {limits.doc_bytes}"
        return LoadResult(None, (error("E-DOC-TOO-LARGE", "$", message),))
    return load_document(
        data,
        source_name=source_name or name,
        fmt=fmt or format_from_extension(name),
        limits=limits,
        strict=strict,
        executor_checks=executor_checks,
        expression_check=expression_check,
        variable_namespaces=variable_namespaces,
        template_lookup=template_lookup,
        expected_kind=expected_kind,
    )
