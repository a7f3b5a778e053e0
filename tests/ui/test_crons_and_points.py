"""The cron pages of ``aether ui``, and comparing two points and a node's audit trail on the run page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from playwright.sync_api import Page, expect
from support.cli import aether
from support.documents import cron_workflow, dag, echo_task
from support.ui_pages import UiServer, replay_phases, run_workflow

pytestmark = pytest.mark.spec("6.4", "6.6", "12.1", "12.6")

StartUi = Callable[..., UiServer]


def test_the_cron_page_shows_the_schedule_its_next_times_and_the_runs_of_its_ticks(
    tmp_path: Path, start_ui: StartUi, page: Page
) -> None:
    db = tmp_path / "aether.db"
    document = tmp_path / "nightly.json"
    document.write_bytes(
        orjson.dumps(cron_workflow("nightly", "0 3 * * *", dag("main", echo_task("hello")), timezone="UTC"))
    )
    assert aether(db, "cron", "create", str(document)).exit_code == 0
    triggered = aether(db, "cron", "trigger", "nightly", "--json")
    assert triggered.exit_code == 0, triggered.output
    run_id = orjson.loads(triggered.stdout)["runId"]
    server = start_ui(db)
    page.goto(server.url + "/crons")
    page.click("text=default/nightly")
    expect(page.locator("h1")).to_have_text("Cron default/nightly")
    expect(page.locator("code")).to_have_text("0 3 * * *")
    times = page.locator("#next-times li")
    expect(times).to_have_count(5)
    assert all(text.endswith("T03:00:00.000Z") for text in times.all_inner_texts()), times.all_inner_texts()
    expect(page.locator(f'tr[data-run-id="{run_id}"]')).to_contain_text("manual")
    page.click(f'tr[data-run-id="{run_id}"] a')
    expect(page.locator("#run-title")).to_contain_text(run_id)


def test_two_points_compared_and_a_node_audit_trail_on_the_run_page(
    tmp_path: Path, start_ui: StartUi, page: Page
) -> None:
    db, run_id = run_workflow(tmp_path)
    server = start_ui(db)
    page.goto(f"{server.url}/runs/{run_id}?at=20&node=main/b")
    expect(page.locator("#run-root")).to_have_attribute("data-shown-seq", "20")
    page.fill("#diff-a", "10")
    page.fill("#diff-b", "30")
    page.click("#diff-run")
    before, after = replay_phases(db, run_id, 10), replay_phases(db, run_id, 30)
    changed = sorted(node for node, phase in after.items() if before.get(node) != phase)
    expect(page.locator("#diff-result li[data-node-id]")).to_have_count(len(changed))
    assert sorted(page.eval_on_selector_all("#diff-result li[data-node-id]", "l => l.map(e => e.dataset.nodeId)")) == (
        changed
    )
    history = aether(db, "history", run_id, "--phases-only", "--node", "main/b", "--json")
    trail = [orjson.loads(line) for line in history.stdout.splitlines() if line.strip()]
    audit = page.locator("#node-panel .audit li")
    expect(audit).to_have_count(len(trail))
    audit.last.click()  # an entry of the trail moves the slider to its event
    expect(page.locator("#run-root")).to_have_attribute("data-shown-seq", str(trail[-1]["seq"]))
