"""Showing a run while it runs: a live table on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.live import Live
from rich.table import Table

from aether.cli.live_rows import add_task_columns, rows_for_height, tasks_that_fit
from aether.model.json_value import JSON

PHASE_STYLE = {
    "Succeeded": "green",
    "Failed": "red",
    "Error": "red",
    "Timeout": "red",
    "Cancelled": "yellow",
    "Skipped": "dim",
    "Running": "cyan",
    "Suspended": "magenta",
}


class PlainProgress:
    """One line per phase change, for logs and pipes."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.seen: dict[str, str] = {}

    def _emit(self, text: str) -> None:
        if not self.quiet:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def start(self, view: dict[str, JSON]) -> None:
        self._emit(f"run {view['runId']} ({view['name']}) {view['phase']}")
        self.seen["<run>"] = view["phase"]

    def update(self, view: dict[str, JSON]) -> None:
        for task in view["tasks"]:
            if self.seen.get(task["id"]) != task["phase"]:
                self.seen[task["id"]] = task["phase"]
                message = f" {task['message']}" if task["message"] else ""
                self._emit(f"  {task['id']}: {task['phase']}{message}")
        if self.seen.get("<run>") != view["phase"]:
            self.seen["<run>"] = view["phase"]
            self._emit(f"run {view['runId']} {view['phase']}")

    def stop(self, view: dict[str, JSON]) -> None:
        self.update(view)
        message = f": {view['message']}" if view["message"] else ""
        self._emit(f"run {view['runId']} finished {view['phase']}{message} ({view['duration'] or '0s'})")


class RichProgress:
    """A live table of the run's tasks on a terminal."""

    def __init__(self) -> None:
        self.console = Console(stderr=True)
        self.live: Live | None = None

    def _table(self, view: dict[str, JSON]) -> Table:
        table = Table(
            title=f"{view['name']}  run {view['runId']}  {view['phase']}  {view['progress']}",
            title_justify="left",
            min_width=72,
        )
        tasks = view["tasks"]
        shown, not_shown = tasks_that_fit(tasks, rows_for_height(self.console.size.height))
        add_task_columns(table, shown, self.console.width, one_line=bool(not_shown))
        for task in shown:
            style = PHASE_STYLE.get(task["phase"], "")
            table.add_row(task["id"], f"[{style}]{task['phase']}[/]" if style else task["phase"], task["message"])
        if not_shown:
            table.caption = not_shown
        return table

    def start(self, view: dict[str, JSON]) -> None:
        self.live = Live(self._table(view), console=self.console, refresh_per_second=8)
        self.live.start()

    def update(self, view: dict[str, JSON]) -> None:
        if self.live is not None:
            self.live.update(self._table(view))

    def stop(self, view: dict[str, JSON]) -> None:
        if self.live is not None:
            self.live.update(self._table(view))
            self.live.stop()
            self.live = None
        style = PHASE_STYLE.get(view["phase"], "")
        message = f": {view['message']}" if view["message"] else ""
        self.console.print(f"[{style}]run {view['runId']} {view['phase']}[/]{message} ({view['duration'] or '0s'})")
