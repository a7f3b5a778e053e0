"""A run with more tasks than fit on a page: the timeline reaches every task by scrolling
(drawing only the rows in sight), and the graph summarises a wide layer, saying how many
tasks it holds, until it is opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from support.cli import aether
from support.ui_pages import last_seq, run_workflow

pytestmark = pytest.mark.spec("6.4", "6.6")

TASKS = 450


def fan_out(tasks: int) -> str:
    lines = [f"          - {{name: t{i}, executor: {{type: echo}}}}" for i in range(tasks)]
    head = (
        "apiVersion: aether/v1\nkind: Workflow\nmetadata: {name: wide}\nspec:\n  entrypoint: main\n"
        "  templates:\n    - dag:\n        name: main\n        tasks:\n"
    )
    return head + "\n".join(lines) + "\n"


def test_the_timeline_of_a_wide_run_reaches_every_task_and_the_graph_says_what_it_summarises(
    tmp_path: Path, browser: Browser
) -> None:
    db, run_id = run_workflow(tmp_path, fan_out(TASKS))
    report = tmp_path / "report.html"
    assert aether(db, "report", run_id, "-o", str(report)).exit_code == 0
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(report.as_uri())
    expect(page.locator("#run-root")).to_have_attribute("data-shown-seq", str(last_seq(db, run_id)))
    expect(page.locator("#timeline-note")).to_contain_text(f"{TASKS} tasks")
    rows = page.locator("#timeline [data-node-id]")
    expect(page.locator('#timeline [data-node-id="main/t0"]')).to_have_count(1)
    expect(page.locator(f'#timeline [data-node-id="main/t{TASKS - 1}"]')).to_have_count(0)
    assert rows.count() < TASKS  # only the rows in sight are drawn
    card = page.locator("#timeline").locator("xpath=..")
    card.evaluate("card => { card.scrollTop = card.scrollHeight; }")
    expect(page.locator(f'#timeline [data-node-id="main/t{TASKS - 1}"]')).to_have_attribute("data-phase", "Succeeded")
    expect(page.locator('#timeline [data-node-id="main/t0"]')).to_have_count(0)
    page.locator(f'#timeline [data-node-id="main/t{TASKS - 1}"]').click()
    expect(page.locator("#node-panel h3")).to_have_attribute("data-node-id", f"main/t{TASKS - 1}")
    summary = page.locator("#graph .summary")
    expect(summary).to_contain_text(f"{TASKS - 40} more tasks at this depth")
    expect(summary).to_contain_text(f"{TASKS - 40} Succeeded")
    summary.click()
    expect(page.locator("#graph [data-node-id]")).to_have_count(TASKS + 1)
    page.close()
