"""The WorkflowTemplate store (SPEC §13, ARCHITECTURE layer 9).

Each template is the stream ``template:<namespace>/<name>`` of the event log: an apply
records ``WorkflowTemplateApplied`` with the validated document, a delete records
``WorkflowTemplateDeleted``. Both go through the stream processor like a cron's inputs
(load, decide, append expecting the version read), so two writers cannot interleave on
one template and every change is audited in the log.

``TemplateStore.lookup`` is what a submission resolves references against: the engine
of ``aether serve``, ``run``, ``submit`` and the cron's ticks all read the same store.
What a run used is snapshotted in its ``WorkflowSubmitted`` (§13.4), so a later apply or
delete never changes a recorded run.
"""

from __future__ import annotations

import builtins
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from attrs import frozen

from aether.events.catalog import Event
from aether.events.streams import TEMPLATE_PREFIX, template_stream
from aether.events.template_events import WorkflowTemplateApplied, WorkflowTemplateDeleted
from aether.events.times import datetime_to_ms, format_ms
from aether.expr import check_expression
from aether.model import dump_document, load_document, load_file, structure
from aether.model.json_value import JSON
from aether.model.loader import LoadResult
from aether.model.problems import Problem, ValidationError
from aether.model.refs import TemplateLookup
from aether.model.types import KIND_TEMPLATE, WorkflowTemplate
from aether.reducers.template import DEFAULT_NAMESPACE, TemplateState, apply_template
from aether.runtime.engine import Engine
from aether.runtime.stream import Outcome, StreamKind, StreamProcessor, folded_from_the_start
from aether.runtime.submission import PreparedDocument
from aether.scheduler.effects import Effect
from aether.scheduler.templates import E_TEMPLATE_NOT_FOUND, decide_template, live
from aether.store.base import EventLog

TemplateSource = str | bytes | os.PathLike[str] | Mapping[str, JSON]


class TemplateError(Exception):
    """A request refused before anything is written (an unknown template)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@frozen
class PreparedTemplate(PreparedDocument):
    """A validated WorkflowTemplate: the wire document to store and its warnings."""


@frozen
class TemplateCheck:
    """What validating one source came to: the prepared template, or its problems."""

    source: str
    prepared: PreparedTemplate | None
    problems: tuple[Problem, ...]


TEMPLATE_KIND: StreamKind[TemplateState] = StreamKind(
    name="template",
    stream_of=lambda stream: stream,
    load=folded_from_the_start(apply_template),
    reduce=apply_template,
    decide=decide_template,
    accepts_new=lambda _event: True,  # a delete of an unknown template is decided (refused), not dropped
)


def _no_effects(_stream: str, _effect: Effect) -> None:
    raise AssertionError("a WorkflowTemplate's decisions have no effects")


def split_name(name: str, namespace: str | None) -> tuple[str, str]:
    """``(namespace, name)`` of ``NAME`` with ``--namespace``, or of ``NAMESPACE/NAME``."""
    if namespace is None and "/" in name:
        namespace, name = name.split("/", 1)
    return namespace or DEFAULT_NAMESPACE, name


class TemplateStore:
    """The WorkflowTemplates of one event log. Thread-safe: a running engine looks
    templates up from its cron ticker while a command applies them."""

    CONFLICT_RETRIES = 10

    def __init__(self, event_log: EventLog) -> None:
        self.log = event_log
        self._lock = threading.Lock()
        self._processor = StreamProcessor(event_log, TEMPLATE_KIND, _no_effects, conflict_retries=self.CONFLICT_RETRIES)

    def state(self, namespace: str, name: str) -> TemplateState | None:
        """The stored template, or None when it was never applied or is deleted."""
        with self._lock:
            state = self._processor.load(template_stream(namespace, name), fresh=True).state
        return state if live(state) else None

    def lookup(self, namespace: str, name: str) -> WorkflowTemplate | None:
        """A :data:`TemplateLookup`: the template as the submission resolves it."""
        state = self.state(namespace, name)
        return structure(state.document, WorkflowTemplate) if state is not None else None

    def states(self) -> builtins.list[TemplateState]:
        """Every stored template, by namespace then name."""
        found = []
        for stream in self.log.streams(TEMPLATE_PREFIX):
            namespace, _, name = stream[len(TEMPLATE_PREFIX) :].partition("/")
            state = self.state(namespace, name)
            if state is not None:
                found.append(state)
        return sorted(found, key=lambda s: (s.namespace, s.name))

    def record(self, events: Sequence[tuple[str, Event]]) -> builtins.list[Outcome]:
        """Decide and append ``(stream, input)`` pairs in one transaction: all or none."""
        with self._lock:
            return self._processor.process(events, fresh=True)


def template_view(state: TemplateState) -> dict[str, JSON]:
    return {
        "name": state.name,
        "namespace": state.namespace,
        "metadata": state.document.get("metadata") or {},
        "spec": state.document.get("spec") or {},
        "revision": state.revision,
        "createdAt": format_ms(state.created_ms),
        "updatedAt": format_ms(state.updated_ms),
        "warnings": list(state.warnings),
    }


def template_row(state: TemplateState) -> dict[str, JSON]:
    spec = state.document.get("spec") or {}
    names = [body.get("name") for template in spec.get("templates") or () for body in template.values()]
    return {
        "name": state.name,
        "namespace": state.namespace,
        "entrypoint": spec.get("entrypoint"),
        "templates": names,
        "revision": state.revision,
        "updatedAt": format_ms(state.updated_ms),
    }


class TemplateService:
    """Apply, list, get and delete WorkflowTemplates (SPEC §13.1) on an engine's log,
    validating with the engine's limits, executors and variable sources."""

    def __init__(self, engine: Engine, *, store: TemplateStore | None = None) -> None:
        self.engine = engine
        self.store = store if store is not None else TemplateStore(engine.log)
        # References inside an applied template are judged against the engine's store.
        self.lookup: TemplateLookup = engine.template_lookup or self.store.lookup

    # --- validation -------------------------------------------------------------------------

    def check(self, sources: Sequence[TemplateSource]) -> builtins.list[TemplateCheck]:
        """Validate every source. A ``templateRef`` may name a template of the same batch:
        the batch is looked up first, then the store."""
        # First without references, so templates of the batch that reference each other
        # are all known before any of them is judged.
        first = [self._load(source, None) for source in sources]
        batch: dict[tuple[str, str], WorkflowTemplate] = {}
        for _name, result in first:
            document = result.document
            if isinstance(document, WorkflowTemplate) and document.metadata is not None:
                key = (document.metadata.namespace or DEFAULT_NAMESPACE, document.metadata.name or "")
                batch[key] = document

        def batch_first(namespace: str, name: str) -> WorkflowTemplate | None:
            return batch.get((namespace, name)) or self.lookup(namespace, name)

        checks = []
        for source in sources:
            name, result = self._load(source, batch_first)
            document = result.document
            prepared = (
                PreparedTemplate(dump_document(document), result.warnings)
                if isinstance(document, WorkflowTemplate)
                else None
            )
            checks.append(TemplateCheck(name, prepared, result.problems))
        return checks

    def prepare(self, sources: Sequence[TemplateSource | PreparedTemplate]) -> builtins.list[PreparedTemplate]:
        """The sources validated, or ``ValidationError`` for the first invalid one."""
        to_check = [s for s in sources if not isinstance(s, PreparedTemplate)]
        checks = iter(self.check(to_check))
        prepared: list[PreparedTemplate] = []
        for source in sources:
            if isinstance(source, PreparedTemplate):
                prepared.append(source)
                continue
            check = next(checks)
            if check.prepared is None:
                raise ValidationError(check.problems, check.source)
            prepared.append(check.prepared)
        return prepared

    def _load(self, source: TemplateSource, lookup: TemplateLookup | None) -> tuple[str, LoadResult]:
        kwargs: dict[str, Any] = {
            "limits": self.engine.limits,
            "strict": self.engine.strict,
            "executor_checks": self.engine.executor_checks(),
            "expression_check": check_expression,
            "variable_namespaces": self.engine.variable_namespaces(),
            "template_lookup": lookup,
            "expected_kind": KIND_TEMPLATE,
        }
        if isinstance(source, str) and "\n" not in source and os.path.isfile(source):
            source = Path(source)  # a path given as text
        if isinstance(source, os.PathLike):
            return os.fspath(source), load_file(source, **kwargs)
        if isinstance(source, Mapping):
            return "<input>", load_document(orjson.dumps(dict(source)), fmt="json", **kwargs)
        return "<input>", load_document(source, **kwargs)

    # --- management -------------------------------------------------------------------------

    def apply(self, *sources: TemplateSource | PreparedTemplate) -> builtins.list[dict[str, JSON]]:
        """Store every template, replacing what an earlier apply stored, in one transaction.
        Raises ``ValidationError`` (nothing written) when any source is invalid. Returns
        ``{namespace, name, revision}`` per source."""
        prepared = self.prepare(sources)
        at = self._now()
        inputs: list[tuple[str, Event]] = []
        for template in prepared:
            warnings = tuple(f"{p.path}: {p.code}: {p.message}" for p in template.warnings)
            template_id = f"{template.namespace}/{template.name}"
            stream = template_stream(template.namespace, template.name)
            inputs.append((stream, WorkflowTemplateApplied(template_id, at, template.document, warnings)))
        self.store.record(inputs)
        applied = []
        for template in prepared:
            state = self.store.state(template.namespace, template.name)
            revision = state.revision if state is not None else 0
            applied.append({"namespace": template.namespace, "name": template.name, "revision": revision})
        return applied

    def get(self, name: str, namespace: str | None = None) -> dict[str, JSON]:
        return template_view(self._require(name, namespace))

    def list(self) -> builtins.list[dict[str, JSON]]:
        return [template_row(state) for state in self.store.states()]

    def delete(self, name: str, namespace: str | None = None) -> None:
        """Remove the template; runs that used it keep their snapshot (§13.4)."""
        state = self._require(name, namespace)
        stream = template_stream(state.namespace, state.name)
        (outcome,) = self.store.record([(stream, WorkflowTemplateDeleted(self._now()))])
        if outcome.rejection is not None:  # deleted by another writer meanwhile
            raise TemplateError(outcome.rejection.code, f"workflow template {state.template_id} not found")

    def _require(self, name: str, namespace: str | None) -> TemplateState:
        namespace, name = split_name(name, namespace)
        state = self.store.state(namespace, name)
        if state is None:
            raise TemplateError(E_TEMPLATE_NOT_FOUND, f"workflow template {namespace}/{name} not found")
        return state

    def _now(self) -> str:
        return format_ms(datetime_to_ms(self.engine.clock.now()))


def store_lookup(event_log: EventLog) -> TemplateLookup:
    """The lookup a submission on ``event_log`` resolves its references with."""
    return TemplateStore(event_log).lookup


__all__ = [
    "PreparedTemplate",
    "TemplateCheck",
    "TemplateError",
    "TemplateService",
    "TemplateStore",
    "split_name",
    "store_lookup",
    "template_row",
    "template_view",
]
