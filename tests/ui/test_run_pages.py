"""The live UI in a real Chromium: the runs list, the run page's graph and time slider,
and a running run that updates without a reload."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect
from support.cli import aether
from support.commands import aether_command
from support.ui_pages import UiServer, drawn_phases, last_seq, replay_phases, run_workflow, screenshot_dir

pytestmark = pytest.mark.spec("6.1", "6.2", "6.4", "6.6")

StartUi = Callable[..., UiServer]


def shown_at(page: Page, seq: int) -> None:
    """Waits until the page shows the run after event ``seq``."""
    expect(page.locator("#run-root")).to_have_attribute("data-shown-seq", str(seq))
    expect(page.locator("#run-root")).not_to_have_attribute("data-loading", "true")


def test_the_runs_list_shows_a_submitted_run(tmp_path: Path, start_ui: StartUi, page: Page) -> None:
    db, finished = run_workflow(tmp_path)
    submitted = aether(db, "submit", str(tmp_path / "workflow.yaml"))
    assert submitted.exit_code == 0, submitted.output
    waiting = submitted.stdout.strip().splitlines()[-1]
    server = start_ui(db)
    page.goto(server.url + "/")
    expect(page.locator(f'tr[data-run-id="{waiting}"]')).to_be_visible()
    expect(page.locator(f'tr[data-run-id="{finished}"]')).to_have_attribute("data-phase", "Succeeded")
    page.select_option("select[name=phase]", "Succeeded")
    expect(page.locator(f'tr[data-run-id="{waiting}"]')).to_have_count(0)
    expect(page.locator(f'tr[data-run-id="{finished}"]')).to_be_visible()


def test_the_run_page_draws_every_node_in_its_phase(tmp_path: Path, start_ui: StartUi, page: Page) -> None:
    db, run_id = run_workflow(tmp_path)
    server = start_ui(db)
    page.goto(f"{server.url}/runs/{run_id}")
    last = last_seq(db, run_id)
    shown_at(page, last)
    expected = replay_phases(db, run_id, last)
    assert len(expected) == 10
    assert drawn_phases(page) == expected
    page.click('#graph [data-node-id="main/b"]')
    expect(page.locator("#node-panel h3")).to_have_attribute("data-node-id", "main/b")
    expect(page.locator("#node-panel .log")).to_contain_text("hello from b")
    expect(page.locator("#node-panel table tr").nth(1)).to_contain_text("Succeeded")  # the attempt's recorded end
    attempts = page.locator("#timeline rect.attempt")
    assert attempts.evaluate_all("rects => rects.map(r => r.dataset.phase)") == ["Succeeded"] * 7
    if (directory := screenshot_dir()) is not None:
        page.screenshot(path=str(directory / "run-page.png"), full_page=True)


def test_the_slider_and_at_in_the_url_show_the_run_as_replay_does(
    tmp_path: Path, start_ui: StartUi, page: Page
) -> None:
    db, run_id = run_workflow(tmp_path)
    server = start_ui(db)
    last = last_seq(db, run_id)
    points = [1, 4, 15, 30, last // 2 + 7, last - 3]
    page.goto(f"{server.url}/runs/{run_id}")
    shown_at(page, last)
    for seq in points:
        page.locator("#at-slider").fill(str(seq))
        shown_at(page, seq)
        assert drawn_phases(page) == replay_phases(db, run_id, seq), seq
        assert f"at={seq}" in page.url
    for seq in points:
        page.goto(f"{server.url}/runs/{run_id}?at={seq}")
        shown_at(page, seq)
        assert drawn_phases(page) == replay_phases(db, run_id, seq), seq
    if (directory := screenshot_dir()) is not None:
        page.goto(f"{server.url}/runs/{run_id}?at=30&node=main/c/x")
        shown_at(page, 30)
        page.screenshot(path=str(directory / "time-slider.png"), full_page=True)


def test_the_graph_is_drawn_from_the_outline_before_the_history_is_read(
    tmp_path: Path, start_ui: StartUi, page: Page
) -> None:
    db, run_id = run_workflow(tmp_path)
    server = start_ui(db)
    held: list[Route] = []
    page.route(f"**/api/runs/{run_id}", lambda route: held.append(route))  # the whole document waits
    page.goto(f"{server.url}/runs/{run_id}")
    last = last_seq(db, run_id)
    root = page.locator("#run-root")
    expect(root).to_have_attribute("data-graph-seq", str(last))
    expect(root).to_have_attribute("data-loading", "true")
    assert drawn_phases(page) == replay_phases(db, run_id, last)
    expect(page.locator("#timeline-note")).to_contain_text("reading the run's history")
    assert len(held) == 1
    held[0].continue_()
    shown_at(page, last)
    expect(page.locator("#timeline-note")).to_have_text("7 tasks")
    assert drawn_phases(page) == replay_phases(db, run_id, last)


WAITING_WORKFLOW = """\
apiVersion: aether/v1
kind: Workflow
metadata: {{name: waits}}
spec:
  entrypoint: main
  templates:
    - dag:
        name: main
        tasks:
          - name: wait
            executor: {{type: shell, config: {{command: "while [ ! -f {flag} ]; do sleep 0.05; done"}}}}
          - {{name: after, dependencies: [wait], executor: {{type: echo}}}}
"""


def test_a_running_run_updates_without_a_reload(tmp_path: Path, start_ui: StartUi, page: Page) -> None:
    db, flag = tmp_path / "aether.db", tmp_path / "go"
    document = tmp_path / "waits.yaml"
    document.write_text(WAITING_WORKFLOW.format(flag=flag))
    running = subprocess.Popen(
        [*aether_command(), "run", str(document), "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while not (db.exists() and aether(db, "list", "--json").stdout.count("runId")):
            assert time.monotonic() < deadline and running.poll() is None, "the run did not start"
            time.sleep(0.1)
        server = start_ui(db)
        page.goto(server.url + "/")
        link = page.locator("#runs a").first
        expect(link).to_be_visible()
        link.click()
        task = page.locator('#graph [data-node-id="main/wait"]')
        expect(task).to_have_attribute("data-phase", "Running", timeout=15_000)
        expect(page.locator('#graph [data-node-id="main/after"]')).to_have_count(0)
        page.evaluate("window.notReloaded = true")
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        flag.write_text("go")
        expect(page.locator('#graph [data-node-id="main/after"]')).to_have_attribute(
            "data-phase", "Succeeded", timeout=15_000
        )
        expect(task).to_have_attribute("data-phase", "Succeeded")
        expect(page.locator("#run-phase")).to_have_text("Succeeded")
        assert page.evaluate("window.notReloaded") is True
        # Only what changed after the shown event was asked for, never the whole run again.
        run_path = page.url.split("?")[0].replace(server.url + "/runs/", "/api/runs/")
        assert any("/changes?since=" in url for url in asked), asked
        assert not [url for url in asked if url.split("?")[0].endswith(run_path)], asked
        assert running.wait(30) == 0
    finally:
        flag.write_text("go")
        if running.poll() is None:
            running.kill()
        running.wait(10)
