"""The view history: what time travel (``aether replay --at``) reads instead of refolding.

Folding a run of a million events back to an earlier point means loading and
materialising a state of hundreds of thousands of nodes, then folding a tail: seconds.
So the projector, which folds every event anyway, also records how the run *view*
changed, and time travel only splices recorded views:

- ``node_view_history``: per event, each node whose view it changed, as the keys of that
  node's view computed from fields that changed (the whole view when the event created
  the node);
- ``run_view_history``: per event that changed the run's own fields, those fields
  (``run_header``);
- ``view_pages`` and ``view_checkpoints``: every ``checkpoint_every`` events of a run, the
  views of all its nodes as of that event, in pages of ``page_size`` nodes by creation
  order. A checkpoint writes only the pages that changed since the run's previous one, so
  pages are shared between checkpoints and their storage grows with what changed;
- ``run_clock``: the versions at which the run's clock (its latest input time) moved
  forward, so ``--at TIME`` is one index lookup.

The view at version S is then the pages of the newest checkpoint C ≤ S, with the node
changes of versions C+1..S applied: at most ``checkpoint_every`` events of changes, however
long the run. Every row is derived from the reducer's states through ``views.py``, so the
result equals ``run_view`` of the state folded to S; a property test holds it to that.

Which pages changed is remembered per run in memory. A run this model has not followed
since its last checkpoint (a restarted process, a failed batch) gets all its pages at its
next checkpoint: slower once, never wrong.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict

import orjson

from aether.events.catalog import INPUT
from aether.projections.read_model_base import RowSink, RunChange, TableSpec
from aether.projections.views import node_view, node_view_change, run_header, run_header_changed
from aether.reducers.state import RunState

DEFAULT_CHECKPOINT_EVERY = 10_000
DEFAULT_PAGE_SIZE = 256
# Runs whose changed pages are remembered; one forgotten gets all its pages next time.
DEFAULT_TRACKED_RUNS = 1024
# Separates the node views of a page: orjson escapes newlines inside strings.
PAGE_SEPARATOR = b"\n"
# zlib's fastest level: a page of views compresses about as well as at the default level.
PAGE_COMPRESSION = 1

NODE_VIEW_HISTORY = TableSpec(
    "node_view_history",
    (
        ("run_id", "TEXT NOT NULL"),
        ("version", "INTEGER NOT NULL"),
        ("seq", "INTEGER NOT NULL"),  # the node's creation order
        ("change", "BLOB NOT NULL"),  # JSON: the view keys that changed (all of them at creation)
    ),
    ("run_id", "version", "seq"),
    without_rowid=True,
)

RUN_VIEW_HISTORY = TableSpec(
    "run_view_history",
    (("run_id", "TEXT NOT NULL"), ("version", "INTEGER NOT NULL"), ("header", "BLOB NOT NULL")),
    ("run_id", "version"),
)

VIEW_CHECKPOINTS = TableSpec(
    "view_checkpoints",
    (
        ("run_id", "TEXT NOT NULL"),
        ("version", "INTEGER NOT NULL"),
        ("node_count", "INTEGER NOT NULL"),
        ("terminal", "INTEGER NOT NULL"),  # nodes in a terminal phase
        ("page_size", "INTEGER NOT NULL"),
    ),
    ("run_id", "version"),
)

VIEW_PAGES = TableSpec(
    "view_pages",
    (
        ("run_id", "TEXT NOT NULL"),
        ("page_size", "INTEGER NOT NULL"),
        ("page", "INTEGER NOT NULL"),
        ("version", "INTEGER NOT NULL"),  # the checkpoint that wrote it
        # The page's node views, JSON with PAGE_SEPARATOR between them, zlib-compressed:
        # views of one run repeat their keys and values, and shrink about tenfold.
        ("compressed_views", "BLOB NOT NULL"),
    ),
    ("run_id", "page_size", "page", "version"),
)

RUN_CLOCK = TableSpec(
    "run_clock",
    (("run_id", "TEXT NOT NULL"), ("version", "INTEGER NOT NULL"), ("at_ms", "INTEGER NOT NULL")),
    ("run_id", "version"),
    (("run_id", "at_ms"),),
    without_rowid=True,
)


def page_views(state: RunState, page: int, page_size: int) -> bytes:
    """The views of the nodes created ``page * page_size`` up to the next page, joined
    and compressed (``read_page`` undoes it)."""
    first = page * page_size
    last = min(first + page_size, state.node_count)
    order, nodes = state.order, state.nodes
    joined = PAGE_SEPARATOR.join(orjson.dumps(node_view(nodes[order[i]])) for i in range(first, last))
    return zlib.compress(joined, PAGE_COMPRESSION)


def read_page(data: bytes) -> list[bytes]:
    return zlib.decompress(data).split(PAGE_SEPARATOR)


class ViewHistoryModel:
    """Rows of the view history tables from each folded event of a run."""

    tables: tuple[TableSpec, ...] = (NODE_VIEW_HISTORY, RUN_VIEW_HISTORY, VIEW_CHECKPOINTS, VIEW_PAGES, RUN_CLOCK)

    def __init__(
        self,
        *,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        page_size: int = DEFAULT_PAGE_SIZE,
        tracked_runs: int = DEFAULT_TRACKED_RUNS,
    ) -> None:
        if checkpoint_every < 1 or page_size < 1 or tracked_runs < 1:
            raise ValueError("checkpoint_every, page_size and tracked_runs must be >= 1")
        self.checkpoint_every = checkpoint_every
        self.page_size = page_size
        self.tracked_runs = tracked_runs
        # run id -> pages changed since the run's last checkpoint; absent: unknown (all).
        self._changed_pages: OrderedDict[str, set[int]] = OrderedDict()

    def reset(self) -> None:
        """Forget what changed: the projector rolled back a batch or rebuilds the tables."""
        self._changed_pages.clear()

    def on_run_change(self, change: RunChange, sink: RowSink) -> None:
        run_id, version, before, after = change.run_id, change.version, change.before, change.after
        changed = self._pages_of(run_id, before is None)
        for node_id in change.nodes_changed():
            new = after.node(node_id)
            delta = node_view_change(before.get_node(node_id) if before is not None else None, new)
            if delta:
                sink.append(NODE_VIEW_HISTORY.name, (run_id, version, new.seq, orjson.dumps(delta)))
                if changed is not None:
                    changed.add(new.seq // self.page_size)
        if run_header_changed(before, after):
            sink.append(RUN_VIEW_HISTORY.name, (run_id, version, orjson.dumps(run_header(after))))
        if change.event.KIND == INPUT and (before is None or after.now_ms > before.now_ms):
            sink.append(RUN_CLOCK.name, (run_id, version, after.now_ms))
        if version // self.checkpoint_every > (version - 1) // self.checkpoint_every:
            self._checkpoint(change, changed, sink)
        if after.terminal:  # later events of a finished run are rare: forget it
            self._changed_pages.pop(run_id, None)

    def _pages_of(self, run_id: str, new_run: bool) -> set[int] | None:
        """The pages of ``run_id`` changed since its last checkpoint; None if unknown."""
        if new_run:
            return self._track(run_id)
        found = self._changed_pages.get(run_id)
        if found is not None:
            self._changed_pages.move_to_end(run_id)
        return found

    def _track(self, run_id: str) -> set[int]:
        """Start counting the changed pages of ``run_id`` afresh (forgetting the least
        recently seen run beyond ``tracked_runs``)."""
        pages: set[int] = set()
        self._changed_pages[run_id] = pages
        self._changed_pages.move_to_end(run_id)
        while len(self._changed_pages) > self.tracked_runs:
            self._changed_pages.popitem(last=False)
        return pages

    def _checkpoint(self, change: RunChange, changed: set[int] | None, sink: RowSink) -> None:
        state, run_id, version = change.after, change.run_id, change.version
        pages = sorted(changed) if changed is not None else range(-(-state.node_count // self.page_size))
        for page in pages:
            views = page_views(state, page, self.page_size)
            sink.append(VIEW_PAGES.name, (run_id, self.page_size, page, version, views))
        sink.append(VIEW_CHECKPOINTS.name, (run_id, version, state.node_count, change.terminal_nodes, self.page_size))
        self._track(run_id)
