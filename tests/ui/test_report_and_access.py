"""The report opened from disk with every network request blocked, and what ``aether ui``
lets in: the token when one is set, and actions only with --allow-actions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from playwright.sync_api import Browser, Page, Route, expect
from support.cli import aether
from support.ui_pages import UiServer, drawn_phases, last_seq, replay_phases, run_workflow

pytestmark = pytest.mark.spec("6.1", "6.4", "6.6", "11.3")

StartUi = Callable[..., UiServer]


def test_the_report_draws_the_graph_and_travels_in_time_with_no_network(tmp_path: Path, browser: Browser) -> None:
    db, run_id = run_workflow(tmp_path)
    report = tmp_path / "report.html"
    written = aether(db, "report", run_id, "-o", str(report))
    assert written.exit_code == 0, written.output
    context = browser.new_context()
    attempted: list[str] = []

    def block(route: Route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    context.route("**/*", block)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    last = last_seq(db, run_id)
    page.goto(report.as_uri())
    expect(page.locator("#run-root")).to_have_attribute("data-shown-seq", str(last))
    assert drawn_phases(page) == replay_phases(db, run_id, last)
    for seq in (3, 16, 33, last - 2):
        page.locator("#at-slider").fill(str(seq))
        expect(page.locator("#run-root")).to_have_attribute("data-shown-seq", str(seq))
        assert drawn_phases(page) == replay_phases(db, run_id, seq), seq
    page.goto(report.as_uri() + "?at=20")
    expect(page.locator("#run-root")).to_have_attribute("data-shown-seq", "20")
    assert drawn_phases(page) == replay_phases(db, run_id, 20)
    page.locator("#latest").click()
    page.click('#graph [data-node-id="main/b"]')
    expect(page.locator("#node-panel .log")).to_contain_text("hello from b")
    page.goto(report.as_uri() + "?at=20")
    expect(page.locator("#run-root")).to_have_attribute("data-shown-seq", "20")
    page.click('#graph [data-node-id="main/a"]')
    expect(page.locator("#node-panel h3")).to_have_attribute("data-phase", replay_phases(db, run_id, 20)["main/a"])
    assert errors == []
    assert attempted == []
    context.close()


def test_a_token_is_required_when_set(tmp_path: Path, start_ui: StartUi, page: Page) -> None:
    db, run_id = run_workflow(tmp_path)
    server = start_ui(db, "--token", "s3cret")
    assert server.request("/api/runs")[0] == 401
    assert server.request("/", headers={"Authorization": "Bearer wrong"})[0] == 401
    status, body = server.request("/api/runs", headers={"Authorization": "Bearer s3cret"})
    assert status == 200 and orjson.loads(body)[0]["runId"] == run_id
    page.goto(f"{server.url}/runs/{run_id}")
    assert "needs its token" in page.content()
    page.goto(f"{server.url}/runs/{run_id}?token=s3cret&at=5")
    assert page.url == f"{server.url}/runs/{run_id}?at=5"  # the token left the address bar
    expect(page.locator("#run-root")).to_have_attribute("data-shown-seq", "5")
    page.goto(server.url + "/")  # the cookie carries it from then on
    expect(page.locator(f'tr[data-run-id="{run_id}"]')).to_be_visible()


def test_another_host_than_this_machine_needs_a_token(tmp_path: Path) -> None:
    result = aether(tmp_path / "aether.db", "ui", "--host", "0.0.0.0")
    assert result.exit_code == 2
    assert "--token" in result.output


def test_actions_are_refused_without_allow_actions(tmp_path: Path, start_ui: StartUi) -> None:
    db, _finished = run_workflow(tmp_path)
    submitted = aether(db, "submit", str(tmp_path / "workflow.yaml"))
    waiting = submitted.stdout.strip().splitlines()[-1]
    json = {"Content-Type": "application/json"}
    reading = start_ui(db)
    for action in ("cancel", "retry", "resume"):
        assert reading.request(f"/api/runs/{waiting}/{action}", method="POST", headers=json)[0] == 403
    assert orjson.loads(reading.request(f"/api/runs/{waiting}")[1])["run"]["phase"] != "Cancelled"
    acting = start_ui(db, "--allow-actions")
    status, body = acting.request(f"/api/runs/{waiting}/cancel", method="POST", headers=json)
    assert status == 200, body
    assert orjson.loads(acting.request(f"/api/runs/{waiting}")[1])["run"]["phase"] == "Cancelled"


# A page of another site that makes the visitor's browser post to the UI (its cookie, if
# any, goes along): a form, since a script's cross-origin fetch would not be let through.
FORGED_PAGE = """<!DOCTYPE html><html><body>
<form method="post" action="{action}" enctype="text/plain"><input name='{{"x":"' value='"}}'></form>
<script>document.forms[0].submit();</script></body></html>"""


def test_an_action_from_another_site_is_refused_and_the_page_own_button_works(
    tmp_path: Path, start_ui: StartUi, browser: Browser
) -> None:
    db, _finished = run_workflow(tmp_path)
    waiting = aether(db, "submit", str(tmp_path / "workflow.yaml")).stdout.strip().splitlines()[-1]
    server = start_ui(db, "--allow-actions")
    cancel = f"/api/runs/{waiting}/cancel"
    json = {"Content-Type": "application/json"}
    for forged in (
        {"Origin": "http://attacker.example"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://attacker.example"},
        {"Sec-Fetch-Site": "same-site", "Origin": server.url},
    ):
        status, body = server.request(cancel, method="POST", headers={**json, **forged})
        assert status == 403, (forged, body)
    context = browser.new_context()
    context.route(
        "http://attacker.example/**",
        lambda route: route.fulfill(content_type="text/html", body=FORGED_PAGE.format(action=server.url + cancel)),
    )
    page = context.new_page()
    with page.expect_response(lambda response: response.url.endswith(cancel)) as answer:
        page.goto("http://attacker.example/")
    assert answer.value.status == 403
    assert orjson.loads(server.request(f"/api/runs/{waiting}")[1])["run"]["phase"] != "Cancelled"
    page.goto(f"{server.url}/runs/{waiting}")
    expect(page.locator("#run-actions")).to_be_visible()
    page.click("#cancel-run")
    expect(page.locator("#run-phase")).to_have_text("Cancelled")
    assert orjson.loads(server.request(f"/api/runs/{waiting}")[1])["run"]["phase"] == "Cancelled"
    context.close()
