"""The live table of ``aether run`` (and ``aether wait``) keeps failed and running tasks in
sight however many tasks a run has (SPEC §6.4 phases): when the tasks do not fit the
terminal's height, the failed ones come first, then the running ones, and one line counts
the others."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from aether.cli.live_rows import rows_for_height, tasks_that_fit
from aether.cli.progress import RichProgress

pytestmark = pytest.mark.spec("6.4")

FAILED_AT = (17, 140)
RUNNING_AT = (3, 99, 180)
PENDING_AT = (198, 199)


def loop_view(size: int = 200) -> dict[str, Any]:
    """A loop of ``size`` items well under way: most succeeded, a few failed, run or wait."""
    tasks = [{"id": f"main/items({index})", "phase": "Succeeded", "message": ""} for index in range(size)]
    tasks_at = range(size)
    for index in (index for index in FAILED_AT if index in tasks_at):
        tasks[index].update(phase="Failed", message=f"item {index}: exit code 3 " + "and a long explanation " * 8)
    for index in (index for index in RUNNING_AT if index in tasks_at):
        tasks[index]["phase"] = "Running"
    for index in (index for index in PENDING_AT if index in tasks_at):
        tasks[index]["phase"] = "Ready"
    return {
        "runId": "01m99c53v1k17fwycjmdn3yxcs",
        "name": "items",
        "phase": "Running",
        "message": "",
        "progress": f"{size - 7}/{size}",
        "duration": "42s",
        "tasks": tasks,
    }


def live_table_text(view: dict[str, Any], *, height: int, width: int = 100) -> str:
    """What the live table shows after its last refresh on a terminal ``height`` lines tall."""
    progress = RichProgress()
    progress.console = Console(file=io.StringIO(), width=width, height=height)
    progress.start(view)
    progress.update(view)
    assert progress.live is not None
    shown = Console(file=io.StringIO(), width=width, height=height)
    shown.print(progress.live.renderable)
    progress.stop(view)
    assert isinstance(shown.file, io.StringIO)
    return shown.file.getvalue()


def task_rows(text: str) -> list[tuple[str, str]]:
    """(task, phase) of every row of the table."""
    rows = []
    for line in text.splitlines():
        if line.startswith("│"):
            cells = [cell.strip() for cell in line.split("│")[1:-1]]
            rows.append((cells[0], cells[1]))
    return rows


@pytest.mark.parametrize("height", [12, 24, 40])
def test_a_200_task_view_shows_the_failed_then_the_running_tasks_and_counts_the_rest(height: int) -> None:
    text = live_table_text(loop_view(), height=height)
    rows = task_rows(text)
    assert len(rows) == rows_for_height(height)
    assert rows[:2] == [(f"main/items({index})", "Failed") for index in FAILED_AT]
    assert rows[2:5] == [(f"main/items({index})", "Running") for index in RUNNING_AT]
    shown_succeeded = sum(1 for _task, phase in rows if phase == "Succeeded")
    assert f"… {193 - shown_succeeded} succeeded, 2 pending not shown" in text
    # The table and its summary leave the cursor's line free: nothing scrolls away.
    assert len(text.splitlines()) <= height - 1
    assert all(len(line) <= 100 for line in text.splitlines())


def test_a_long_failure_message_keeps_its_row_to_one_line_when_rows_are_counted() -> None:
    text = live_table_text(loop_view(), height=20, width=70)
    failed_line = next(line for line in text.splitlines() if "main/items(17)" in line)
    assert failed_line.rstrip().endswith("… │")
    assert len(task_rows(text)) == rows_for_height(20)


def test_rows_keep_their_order_within_each_group_from_one_refresh_to_the_next() -> None:
    view = loop_view()
    first, _ = tasks_that_fit(view["tasks"], 20)
    view["tasks"][60]["phase"] = "Failed"  # a new failure joins the failed group in run order
    second, summary = tasks_that_fit(view["tasks"], 20)
    assert [task["id"] for task in second[:3]] == ["main/items(17)", "main/items(60)", "main/items(140)"]
    assert [task["id"] for task in second[3:6]] == [task["id"] for task in first[2:5]]
    assert summary == "… 178 succeeded, 2 pending not shown"


def test_more_failures_than_rows_fill_the_table_and_the_summary_counts_the_rest() -> None:
    tasks = [{"id": f"t{index}", "phase": "Failed" if index % 2 else "Running", "message": ""} for index in range(50)]
    shown, summary = tasks_that_fit(tasks, 10)
    assert [task["id"] for task in shown] == [f"t{index}" for index in range(1, 20, 2)]
    assert summary == "… 15 failed, 25 running not shown"


def test_a_view_that_fits_is_shown_whole_in_its_order_without_a_summary() -> None:
    view = loop_view(size=10)
    text = live_table_text(view, height=40)
    assert [task for task, _phase in task_rows(text)] == [f"main/items({index})" for index in range(10)]
    assert "not shown" not in text
    shown, summary = tasks_that_fit(view["tasks"], 10)
    assert shown == view["tasks"] and summary == ""
