"""Which tasks the live table of ``aether run`` and ``aether wait`` shows when they do not
all fit the terminal: the ones that need attention, never hidden behind the ones that do not.

Failed tasks come first, then the running and suspended ones, then the others; within each
group the tasks keep the run view's order, so rows do not jump about between refreshes.
What does not fit is counted in one summary line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.table import Table

from aether.model.json_value import JSON

_FAILED = frozenset({"Failed", "Error", "Timeout"})
_ACTIVE = frozenset({"Running", "Suspended"})
# How the summary names each phase, in the order it lists them.
_SUMMARY_NAMES = {
    "Failed": "failed",
    "Error": "errored",
    "Timeout": "timed out",
    "Running": "running",
    "Suspended": "suspended",
    "Succeeded": "succeeded",
    "Created": "pending",
    "Ready": "pending",
    "Skipped": "skipped",
    "Cancelled": "cancelled",
}
_SUMMARY_ORDER = tuple(dict.fromkeys(_SUMMARY_NAMES.values()))

# Lines of a live table that are not task rows: title, borders, header and summary.
TABLE_FRAME_LINES = 6
# Task rows shown however short the terminal is.
MIN_ROWS = 3
# The widest phase name ("Succeeded", "Cancelled", "Suspended").
_PHASE_WIDTH = 9
# Columns of the table besides their cells: 4 borders, and 1 space each side of 3 cells.
_CELL_FRAME_WIDTH = 4 + 3 * 2


def rows_for_height(height: int) -> int:
    """How many task rows fit a terminal ``height`` lines tall beside the table's frame
    (and the line the cursor rests on)."""
    return max(height - TABLE_FRAME_LINES - 1, MIN_ROWS)


def tasks_that_fit(tasks: Sequence[dict[str, JSON]], rows: int) -> tuple[list[dict[str, JSON]], str]:
    """The tasks to show in at most ``rows`` rows, and the summary of the others ("" when
    every task is shown)."""
    if len(tasks) <= rows:
        return list(tasks), ""
    ranked = sorted(range(len(tasks)), key=lambda index: (_rank(str(tasks[index]["phase"])), index))
    shown = [tasks[index] for index in ranked[:rows]]
    hidden = Counter(_SUMMARY_NAMES.get(str(tasks[index]["phase"]), "other") for index in ranked[rows:])
    counts = [f"{hidden[name]} {name}" for name in (*_SUMMARY_ORDER, "other") if hidden[name]]
    return shown, f"… {', '.join(counts)} not shown"


def _rank(phase: str) -> int:
    if phase in _FAILED:
        return 0
    if phase in _ACTIVE:
        return 1
    return 2


def add_task_columns(table: Table, shown: Sequence[dict[str, JSON]], width: int, *, one_line: bool) -> None:
    """The task, phase and message columns for ``shown`` on a terminal ``width`` wide. Task
    ids stay whole; with ``one_line`` (rows are counted to fit the height) a long message is
    cut to the room left, so that every row keeps to one line."""
    id_width = max((len(str(task["id"])) for task in shown), default=0)
    table.add_column("task", no_wrap=True, min_width=id_width)
    table.add_column("phase", no_wrap=True, min_width=_PHASE_WIDTH)
    if one_line:
        room = max(width - id_width - _PHASE_WIDTH - _CELL_FRAME_WIDTH, 8)
        table.add_column("message", no_wrap=True, overflow="ellipsis", max_width=room)
    else:
        table.add_column("message", overflow="fold")
