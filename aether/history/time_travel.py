"""Time travel, the pure part: a run folded to any point of its history, the point a time
names, and what changed between two points.

The store reads points from the recorded view history (``aether.store.view_history_reader``);
the runtime picks between the two (``aether.runtime.time_travel_queries``).
"""

from __future__ import annotations

from collections.abc import Iterable

from aether.events.catalog import INPUT, Event
from aether.events.times import parse_ms
from aether.model.json_value import JSON
from aether.projections.view_at import ViewAt
from aether.reducers.run import apply
from aether.reducers.state import RunState


def state_at(events: Iterable[tuple[int, Event]], seq: int, start: RunState | None = None) -> RunState | None:
    """Fold events with version ≤ ``seq`` (``start`` is the state before the first of them)."""
    state = start
    for version, event in events:
        if version > seq:
            break
        state = apply(state, event)
    return state


def seq_at_time(events: Iterable[tuple[int, Event]], at: str) -> int:
    """The last event recorded at or before ``at``: an input's time is its ``at``; a
    decision shares the time of the input it answers."""
    limit = parse_ms(at)
    last = 0
    for version, event in events:
        if event.KIND == INPUT:
            when = getattr(event, "at", None)
            if when is not None and parse_ms(when) > limit:
                break
        last = version
    return last


def diff_views(before: dict[str, JSON], after: dict[str, JSON]) -> dict[str, JSON]:
    """Nodes whose phase, attempts or outputs changed, nodes that appeared (or, comparing
    backwards, disappeared), and the run's own phase change."""
    old = {t["id"]: t for t in before["tasks"]}
    changed: list[dict[str, JSON]] = []
    for task in after["tasks"]:
        previous = old.get(task["id"])
        if previous is None:
            changed.append({"id": task["id"], "change": "created", "phase": [None, task["phase"]]})
            continue
        fields = {}
        for key in ("phase", "attempts", "retryCount", "outputs", "message"):
            if previous[key] != task[key]:
                fields[key] = [previous[key], task[key]]
        if fields:
            changed.append({"id": task["id"], "change": "updated", **fields})
    now = {t["id"] for t in after["tasks"]}
    for task in before["tasks"]:
        if task["id"] not in now:  # a backwards diff: the node did not exist yet at the later point
            changed.append({"id": task["id"], "change": "removed", "phase": [task["phase"], None]})
    result: dict[str, JSON] = {"runId": after["runId"], "nodes": changed}
    if before["phase"] != after["phase"]:
        result["phase"] = [before["phase"], after["phase"]]
    return result


def diff_points(before: ViewAt, after: ViewAt, changed: Iterable[int]) -> dict[str, JSON]:
    """``diff_views`` of two points, reading only the nodes whose views changed between
    them (``changed``: their creation seqs, ascending)."""
    seqs = list(changed)

    def restricted(point: ViewAt) -> dict[str, JSON]:
        tasks = [point.task(seq) for seq in seqs if seq < len(point.tasks)]
        return {"runId": point.header["runId"], "phase": point.header["phase"], "tasks": tasks}

    return diff_views(restricted(before), restricted(after))


__all__ = ["diff_points", "diff_views", "seq_at_time", "state_at"]
