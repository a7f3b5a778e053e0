"""``aether ui`` on a PostgreSQL database: the runs list, and a run page's phases at its end
and at earlier events, as ``aether replay`` gives them from the same database."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from playwright.sync_api import Page, expect
from support.commands import aether_command
from support.ui_pages import WORKFLOW, UiServer, drawn_phases
from typer.testing import CliRunner

from aether.cli.main import app

pytestmark = pytest.mark.spec("6.4", "6.6", "11.3")

StartUi = Callable[..., UiServer]


def _aether(url: str, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--db", url])
    assert result.exit_code == 0, result.output
    return result.stdout


def _replay_phases(url: str, run_id: str, seq: int) -> dict[str, str]:
    view = orjson.loads(_aether(url, "replay", run_id, "--at", str(seq), "--json"))
    return {task["id"]: task["phase"] for task in view["tasks"]}


def test_the_ui_on_postgresql_lists_the_runs_and_draws_a_run_in_its_phases(
    postgres_url: str, tmp_path: Path, start_ui: StartUi, page: Page
) -> None:
    document = tmp_path / "workflow.yaml"
    document.write_text(WORKFLOW)
    run = subprocess.run(
        [*aether_command(), "run", str(document), "--db", postgres_url, "--quiet"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    run_id = str(orjson.loads(_aether(postgres_url, "list", "--json"))[-1]["runId"])
    history = _aether(postgres_url, "history", run_id, "--json")
    last = max(orjson.loads(line)["seq"] for line in history.splitlines() if line.strip())
    server = start_ui(postgres_url)
    page.goto(server.url + "/")
    expect(page.locator(f'tr[data-run-id="{run_id}"]')).to_have_attribute("data-phase", "Succeeded")
    page.click(f'tr[data-run-id="{run_id}"] a')
    root = page.locator("#run-root")
    expect(root).to_have_attribute("data-shown-seq", str(last))
    expect(root).not_to_have_attribute("data-loading", "true")
    assert drawn_phases(page) == _replay_phases(postgres_url, run_id, last)
    for seq in (4, 17, last // 2):
        page.locator("#at-slider").fill(str(seq))
        expect(root).to_have_attribute("data-shown-seq", str(seq))
        expect(root).not_to_have_attribute("data-loading", "true")
        assert drawn_phases(page) == _replay_phases(postgres_url, run_id, seq), seq
    page.locator("#latest").click()
    page.click('#graph [data-node-id="main/b"]')
    expect(page.locator("#node-panel .log")).to_contain_text("hello from b")
    status, body = server.request(f"/api/runs/{run_id}/changes?since=10")
    assert status == 200, body
    changes = orjson.loads(body)
    assert [event[0] for event in changes["events"]] == list(range(11, last + 1))
    changed = {node["id"] for node in changes["nodes"]}
    assert changed and changed <= set(_replay_phases(postgres_url, run_id, last))
