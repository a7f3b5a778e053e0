"""The run view people query (``aether get --json``), built from run state alone."""

from __future__ import annotations

from typing import Any

from aether.events.times import format_ms
from aether.events.values import BoundParameter, ResultParameter
from aether.model.durations import format_go_duration
from aether.reducers.state import NodeState, RunState

JSON = Any


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


def run_view(state: RunState) -> dict[str, JSON]:
    nodes = state.nodes_in_order()
    terminal = sum(1 for node in nodes if node.terminal)
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
        "progress": f"{terminal}/{len(nodes)}" if nodes else "",
        "outputs": parameters_object(state.outputs),
        "cron": state.cron,
        "origin": state.origin,
        "warnings": list(state.warnings),
        "tasks": [node_view(node) for node in nodes],
    }
