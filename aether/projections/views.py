"""The run view people query (``aether get --json``), built from run state alone."""

from __future__ import annotations

import operator

from aether.events.times import format_ms
from aether.events.values import BoundParameter, ResultParameter
from aether.model.durations import format_go_duration
from aether.model.json_value import JSON
from aether.reducers.state import NodeState, RunState


def _time(ms: int | None) -> str:
    return format_ms(ms) if ms is not None else ""


def _duration(start: int | None, end: int | None) -> str:
    if start is None or end is None:
        return ""
    return format_go_duration((end - start) / 1000)


def parameters_object(params: tuple[ResultParameter, ...] | tuple[BoundParameter, ...] | None) -> dict[str, JSON]:
    """name → value, a later duplicate winning; parameters without a value are null;
    a secret input shows its reference, never a value."""
    out: dict[str, JSON] = {}
    for param in params or ():
        secret = getattr(param, "secret_key_ref", None)
        if secret is not None:
            out[param.name] = {"secretKeyRef": {"name": secret.name, "key": secret.key}}
        else:
            out[param.name] = param.value if param.has_value else None
    return out


# The NodeState fields each key of node_view is computed from.
NODE_VIEW_SOURCES: dict[str, tuple[str, ...]] = {
    "id": ("node_id",),
    "parentId": ("parent_id",),
    "taskName": ("task_name",),
    "templateName": ("template_name",),
    "templateType": ("template_type",),
    "phase": ("phase",),
    "message": ("message",),
    "depth": ("depth",),
    "index": ("index",),
    "retryCount": ("retry_count",),
    "attempts": ("attempt",),
    "inputs": ("inputs",),
    "outputs": ("outputs",),
    "createdAt": ("created_ms",),
    "startedAt": ("started_ms",),
    "finishedAt": ("finished_ms",),
    "duration": ("started_ms", "finished_ms"),
}
_VIEW_FIELDS = tuple(sorted({name for sources in NODE_VIEW_SOURCES.values() for name in sources}))
# Every NodeState field node_view reads: two nodes equal in these have equal views.
node_view_fields = operator.attrgetter(*_VIEW_FIELDS)


def node_view(node: NodeState) -> dict[str, JSON]:
    return {
        "id": node.node_id,
        "parentId": node.parent_id,
        "taskName": node.task_name,
        "templateName": node.template_name,
        "templateType": node.template_type,
        "phase": node.phase,
        "message": node.message,
        "depth": node.depth,
        "index": node.index,
        "retryCount": node.retry_count,
        "attempts": node.attempt,
        "inputs": parameters_object(node.inputs),
        "outputs": parameters_object(node.outputs),
        "createdAt": _time(node.created_ms),
        "startedAt": _time(node.started_ms),
        "finishedAt": _time(node.finished_ms),
        "duration": _duration(node.started_ms, node.finished_ms),
    }


def node_view_change(old: NodeState | None, new: NodeState) -> dict[str, JSON]:
    """The keys of ``new``'s view that may differ from ``old``'s (all of them without
    ``old``, none when no field the view reads changed): a key is included when a field it
    is computed from changed, so the old view need not be built."""
    if old is None:
        return node_view(new)
    before, after = node_view_fields(old), node_view_fields(new)
    if before == after:
        return {}
    changed = {name for name, a, b in zip(_VIEW_FIELDS, before, after, strict=True) if a != b}
    view = node_view(new)
    return {key: view[key] for key, sources in NODE_VIEW_SOURCES.items() if not changed.isdisjoint(sources)}


def run_header(state: RunState) -> dict[str, JSON]:
    """The run's own fields of its view: everything but ``progress`` and ``tasks``."""
    return {
        "runId": state.run_id,
        "name": state.name,
        "namespace": state.namespace,
        "phase": state.phase,
        "message": state.message,
        "createdAt": _time(state.submitted_ms),
        "startedAt": _time(state.started_ms),
        "finishedAt": _time(state.finished_ms),
        "duration": _duration(state.started_ms or state.submitted_ms, state.finished_ms),
        "outputs": parameters_object(state.outputs),
        "cron": state.cron,
        "origin": state.origin,
        "warnings": list(state.warnings),
    }


def run_header_changed(before: RunState | None, after: RunState) -> bool:
    """Whether ``run_header`` could differ between the two states (``info`` is fixed at
    submission, so identity says it is unchanged)."""
    return before is None or before.info is not after.info or _run_fields(before) != _run_fields(after)


_run_fields = operator.attrgetter("phase", "message", "started_ms", "finished_ms", "outputs")


def progress_text(terminal: int, count: int) -> str:
    return f"{terminal}/{count}" if count else ""


def assemble_view(header: dict[str, JSON], progress: str, tasks: list[JSON]) -> dict[str, JSON]:
    """A run view from its parts, keys in the order ``aether get --json`` prints them."""
    view = {key: header[key] for key in _BEFORE_PROGRESS}
    view["progress"] = progress
    for key in _AFTER_PROGRESS:
        view[key] = header[key]
    view["tasks"] = tasks
    return view


_BEFORE_PROGRESS = (
    "runId",
    "name",
    "namespace",
    "phase",
    "message",
    "createdAt",
    "startedAt",
    "finishedAt",
    "duration",
)
_AFTER_PROGRESS = ("outputs", "cron", "origin", "warnings")


def run_view(state: RunState) -> dict[str, JSON]:
    nodes = state.nodes_in_order()
    terminal = sum(1 for node in nodes if node.terminal)
    return assemble_view(run_header(state), progress_text(terminal, len(nodes)), [node_view(node) for node in nodes])


class RunViewer:
    """``run_view`` for a reader that asks again and again while the run goes on (``aether
    run`` showing its progress): a node's view is built once per version of the node. Run
    state shares the records of the nodes an event did not touch, so a node whose record is
    the very object it was last time has the same view, and only the nodes that moved are
    viewed again. The views it returns share those node views: do not change them."""

    def __init__(self) -> None:
        self._views: dict[str, tuple[NodeState, dict[str, JSON]]] = {}

    def view(self, state: RunState) -> dict[str, JSON]:
        known = self._views
        tasks: list[JSON] = []
        terminal = 0
        for node in state.nodes_in_order():
            seen = known.get(node.node_id)
            if seen is None or seen[0] is not node:
                seen = known[node.node_id] = (node, node_view(node))
            tasks.append(seen[1])
            terminal += node.terminal
        return assemble_view(run_header(state), progress_text(terminal, len(tasks)), tasks)
