"""What a read model is: its tables, the change of a run it is shown, and where it puts rows.

The projector (``aether.store.projector``) speaks only these types; the read models
(``read_models``, ``view_history``) implement them. Keeping them apart from any one read
model lets every read model import them without importing the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from attrs import frozen

from aether.events.catalog import Event
from aether.projections.transitions import PhaseTransition, changed_node_ids
from aether.reducers.state import RunState

Row = tuple[Any, ...]


@frozen
class TableSpec:
    name: str
    # (name, type), in row order; the types are SQLite's, which the store spells in the
    # dialect of the database that holds the table (``aether.store.sql_database``).
    columns: tuple[tuple[str, str], ...]
    primary_key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    # Rows stored in the primary key's b-tree: no second copy of the key in an index.
    # For narrow, append-mostly rows; wide blobs are better off in a rowid table.
    without_rowid: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


@frozen
class RunChange:
    """One event of a run stream, folded."""

    run_id: str
    version: int  # the event's version in the run's stream
    event: Event
    before: RunState | None
    after: RunState
    transitions: tuple[PhaseTransition, ...]
    terminal_nodes: int  # nodes in a terminal phase after the event
    # The nodes the event changed (``changed_node_ids``), bottom up; None: not computed.
    changed_nodes: tuple[str, ...] | None = None

    def nodes_changed(self) -> tuple[str, ...] | list[str]:
        if self.changed_nodes is not None:
            return self.changed_nodes
        return changed_node_ids(self.before, self.after, self.event)


class RowSink:
    """The rows of one batch. A keyed row is built once, from the last change that put it,
    so a run touched by a thousand events of a batch is written once."""

    def __init__(self) -> None:
        self._keyed: dict[str, dict[tuple[Any, ...], Callable[[], Row]]] = {}
        self._appended: dict[str, list[Row]] = {}

    def put(self, table: str, key: tuple[Any, ...], build: Callable[[], Row]) -> None:
        self._keyed.setdefault(table, {})[key] = build

    def append(self, table: str, row: Row) -> None:
        self._appended.setdefault(table, []).append(row)

    def rows(self, table: str) -> list[Row]:
        return [build() for build in self._keyed.get(table, {}).values()] + self._appended.get(table, [])


class ReadModel(Protocol):
    tables: tuple[TableSpec, ...]

    def on_run_change(self, change: RunChange, sink: RowSink) -> None: ...
