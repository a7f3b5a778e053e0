"""A run as it stood at any point of its history, and what changed between two points."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from attrs import frozen

from aether.events.catalog import INPUT, Event
from aether.events.times import parse_ms
from aether.projections.views import (
    assemble_view,
    node_view,
    progress_text,
    run_header,
    run_view,  # re-exported: the replay CLI's view
)
from aether.reducers.run import apply
from aether.reducers.state import TERMINAL_PHASES, RunState

JSON = Any


class ViewHistoryGap(Exception):
    """The recorded view history misses something a point of the run needs."""


@frozen
class ViewAt:
    """A run view as it stood after an event: the run's own fields (``run_header``), each
    node's view as JSON in creation order, and how many nodes were terminal.

    Node views stay JSON text so that a view of a hundred thousand nodes is printed by
    splicing, not by building a hundred thousand dictionaries.
    """

    header: dict[str, JSON]
    tasks: list[bytes]
    terminal: int

    @property
    def progress(self) -> str:
        return progress_text(self.terminal, len(self.tasks))

    def to_dict(self) -> dict[str, JSON]:
        return assemble_view(self.header, self.progress, [orjson.loads(task) for task in self.tasks])

    def to_json(self) -> bytes:
        """The view as ``aether get --json`` prints it, each node on one line."""
        tasks = [orjson.Fragment(task) for task in self.tasks]
        return orjson.dumps(assemble_view(self.header, self.progress, tasks), option=orjson.OPT_INDENT_2)

    def task(self, seq: int) -> dict[str, JSON]:
        found: dict[str, JSON] = orjson.loads(self.tasks[seq])
        return found


def view_of_state(state: RunState) -> ViewAt:
    nodes = state.nodes_in_order()
    return ViewAt(
        run_header(state),
        [orjson.dumps(node_view(node)) for node in nodes],
        sum(1 for node in nodes if node.terminal),
    )


def apply_view_changes(
    base: list[bytes], base_terminal: int, changes: Iterable[tuple[int, bytes]]
) -> tuple[list[bytes], int]:
    """Node views (JSON, by creation order) with recorded changes applied in order.

    Each change is (node seq, JSON of the view keys that changed); a change for the next
    seq creates that node and carries its whole view. Returns the views and the new
    count of terminal nodes. ``base`` is extended in place.
    """
    touched: dict[int, dict[str, JSON]] = {}
    was_terminal = 0
    for seq, change in changes:
        delta = orjson.loads(change)
        view = touched.get(seq)
        if view is None:
            if seq < len(base):
                view = orjson.loads(base[seq])
                was_terminal += view["phase"] in TERMINAL_PHASES
            elif seq == len(base) and "id" in delta:  # a creation carries the whole view
                view = {}
                base.append(b"")
            else:
                raise ViewHistoryGap(f"node {seq} changes before it was created (nodes so far: {len(base)})")
            touched[seq] = view
        view.update(delta)
    terminal = base_terminal - was_terminal
    for seq, view in touched.items():
        terminal += view["phase"] in TERMINAL_PHASES
        base[seq] = orjson.dumps(view)
    return base, terminal


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


__all__ = [
    "ViewAt",
    "ViewHistoryGap",
    "apply_view_changes",
    "diff_points",
    "diff_views",
    "run_view",
    "seq_at_time",
    "state_at",
    "view_of_state",
]
