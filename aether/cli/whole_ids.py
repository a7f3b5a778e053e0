"""Tables whose ids are never cut: an id is what people copy into the next command.

An id column keeps its values on one line at their full width; the other columns fold to
make room. A table whose id columns alone are wider than the terminal is printed wider
than the terminal (which wraps the lines it shows, but copies them whole) rather than
cropped or ellipsised.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rich.console import Console
from rich.table import Table

# Room a folded column keeps at the least: a few characters per line stay readable.
_FOLDED_MIN_WIDTH = 4


def id_table(headers: Sequence[str], id_headers: Collection[str], rows: Sequence[Sequence[str]]) -> Table:
    """A table of ``rows`` under ``headers``; the columns named in ``id_headers`` hold ids."""
    table = Table()
    for index, header in enumerate(headers):
        if header in id_headers:
            width = max([len(header), *(len(row[index]) for row in rows)])
            table.add_column(header, no_wrap=True, min_width=width)
        else:
            table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def print_table(table: Table, console: Console | None = None) -> None:
    """Print ``table`` no narrower than its id columns need."""
    console = console if console is not None else Console()
    needed = _narrowest(table)
    if needed <= console.width:
        console.print(table)
        return
    width = console.width
    console.width = needed
    try:
        console.print(table)
    finally:
        console.width = width


def _narrowest(table: Table) -> int:
    """The width at which every id column is whole and every other column folds."""
    columns = table.columns
    borders = len(columns) + 1 if table.show_edge else len(columns) - 1
    padding = table.padding[1] + table.padding[3]
    cells = sum(max(column.min_width or 0, _FOLDED_MIN_WIDTH) + padding for column in columns)
    return cells + borders
