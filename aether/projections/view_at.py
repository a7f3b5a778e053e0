"""A run view as it stood after an event, and how recorded view changes rebuild one.

Time travel (``aether replay --at``) shows these: either computed from a state folded to
the point (``view_of_state``) or spliced from the view history the projector recorded
(``view_history``), by applying recorded node changes to a checkpoint's node views
(``apply_view_changes``). Both equal ``run_view`` of the state at that point.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from attrs import frozen

from aether.model.json_value import JSON
from aether.projections.views import assemble_view, node_view, progress_text, run_header
from aether.reducers.state import TERMINAL_PHASES, RunState


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
