"""The HTML of Aether's pages. The run page's markup is one function, shared by the live
UI (which links its script and style) and the report (which inlines them)."""

from __future__ import annotations

import json
from html import escape
from importlib import resources

from aether.model.json_value import JSON

STATIC_FILES = ("aether.css", "run.js", "pages.js")


def static_text(name: str) -> str:
    """One of the package's own scripts or styles (nothing is ever fetched from elsewhere)."""
    if name not in STATIC_FILES:
        raise KeyError(name)
    return resources.files("aether.ui").joinpath("static", name).read_text(encoding="utf-8")


def _document(title: str, head: str, body: str, *, nav: bool = True) -> str:
    top = (
        '<header class="top"><a class="brand" href="/">Aether</a>'
        '<a href="/">Runs</a><a href="/crons">Crons</a></header>'
        if nav
        else '<header class="top"><span class="brand">Aether</span><span>run report</span></header>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>{head}</head><body>{top}<main>{body}</main></body></html>\n"
    )


def _linked_assets(*scripts: str) -> str:
    links = '<link rel="stylesheet" href="/static/aether.css">'
    return links + "".join(f'<script src="/static/{name}"></script>' for name in scripts)


RUN_BODY = """
<div id="run-root">
<h1><span id="run-title"></span> <span id="run-phase" class="badge"></span></h1>
<p class="sub" id="run-times"></p>
<div id="run-actions" hidden><button id="cancel-run">Cancel run</button> <button id="retry-run">Retry run</button></div>
<div class="slider-bar">
  <button id="step-back" title="previous event">◀</button>
  <input id="at-slider" type="range" min="1" max="1" value="1" aria-label="event">
  <button id="step-forward" title="next event">▶</button>
  <button id="latest">latest</button>
</div>
<div id="at-label"></div>
<div class="run-layout">
  <div>
    <section class="card scroll"><svg id="graph" xmlns="http://www.w3.org/2000/svg"></svg></section>
    <h2>Timeline <span class="sub" id="timeline-note"></span></h2>
    <section class="card scroll"><svg id="timeline" xmlns="http://www.w3.org/2000/svg"></svg></section>
    <h2>Events <span class="sub" id="events-note"></span></h2>
    <section class="card scroll"><table><tbody id="events"></tbody></table></section>
  </div>
  <aside>
    <section class="card" id="node-panel"></section>
    <h2>Compare two points</h2>
    <section class="card">
      <label>after event <input id="diff-a" type="number" min="1" size="6"></label>
      <label>and event <input id="diff-b" type="number" min="1" size="6"></label>
      <button id="diff-run">Compare</button>
      <ul id="diff-result"></ul>
    </section>
  </aside>
</div>
</div>
"""


def run_page(run_id: str, *, allow_actions: bool) -> str:
    boot = (
        "<script>AetherRun.start(AetherRun.httpSource("
        f"{_js_string(run_id)}, {'true' if allow_actions else 'false'}), document.getElementById('run-root'));</script>"
    )
    return _document(f"Run {run_id} — Aether", _linked_assets("run.js"), RUN_BODY + boot)


def report_page(run_id: str, data_json: str) -> str:
    """The run page with its script, style and data inside: it works opened from disk."""
    head = f"<style>{static_text('aether.css')}</style>"
    # The data is JSON in a non-executed script element; "</" is escaped so no value can
    # close the element.
    blob = data_json.replace("</", "<\\/")
    body = (
        RUN_BODY
        + f'<script id="run-data" type="application/json">{blob}</script>'
        + f"<script>{static_text('run.js')}</script>"
        + "<script>AetherRun.start(AetherRun.embeddedSource(JSON.parse("
        "document.getElementById('run-data').textContent)), document.getElementById('run-root'));</script>"
    )
    return _document(f"Run {run_id} — Aether report", head, body, nav=False)


def runs_page() -> str:
    body = """
<h1>Runs <span class="sub" id="runs-note"></span></h1>
<form id="run-filters" class="filters" onsubmit="return false">
  <label>phase <select name="phase"><option value="">any</option>
    <option>Created</option><option>Ready</option><option>Running</option><option>Succeeded</option>
    <option>Failed</option><option>Error</option><option>Timeout</option><option>Cancelled</option></select></label>
  <label>workflow <input name="workflow" type="search" placeholder="name contains"></label>
  <label>created after <input name="since" type="datetime-local"></label>
  <label>created before <input name="until" type="datetime-local"></label>
</form>
<section class="card"><table>
<thead><tr><th>run</th><th>workflow</th><th>phase</th><th>created</th><th>finished</th><th>duration</th><th>progress</th></tr></thead>
<tbody id="runs"></tbody></table></section>
<script>AetherPages.runsList(document.querySelector("main"));</script>
"""
    return _document("Runs — Aether", _linked_assets("pages.js"), body)


def crons_page(crons: list[dict[str, JSON]]) -> str:
    rows = "".join(
        f'<tr><td><a href="/crons/{escape(str(c["namespace"]))}/{escape(str(c["name"]))}">'
        f"{escape(str(c['namespace']))}/{escape(str(c['name']))}</a></td>"
        f"<td>{escape(str(c['schedule']))}</td><td>{escape(str(c['timezone']))}</td>"
        f"<td>{'yes' if c['suspend'] else 'no'}</td><td>{escape(str(c['lastScheduleTime'] or '-'))}</td>"
        f"<td>{escape(str(c['nextScheduleTime'] or '-'))}</td><td>{c['runs']}</td></tr>"
        for c in crons
    )
    body = (
        "<h1>Crons</h1><section class='card'><table><thead><tr><th>cron</th><th>schedule</th><th>timezone</th>"
        "<th>suspended</th><th>last scheduled</th><th>next</th><th>runs</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )
    if not crons:
        body += "<p class='hint'>No cron workflows (aether cron create FILE registers one).</p>"
    return _document("Crons — Aether", _linked_assets(), body)


def cron_page(view: dict[str, JSON], next_times: list[str]) -> str:
    spec = view["spec"]
    status = view["status"]
    assert isinstance(spec, dict) and isinstance(status, dict) and isinstance(view["runs"], list)
    runs = "".join(
        f'<tr data-run-id="{escape(str(run["runId"]))}"><td>{escape(str(run["scheduledTime"]))}</td>'
        f"<td>{escape(str(run['trigger']))}</td>"
        f'<td><a href="/runs/{escape(str(run["runId"]))}">{escape(str(run["runId"]))}</a></td>'
        f'<td><span class="badge" data-phase="{escape(str(run["phase"]))}">{escape(str(run["phase"]))}</span></td>'
        f"<td>{escape(str(run.get('message') or ''))}</td></tr>"
        for run in view["runs"]
        if isinstance(run, dict)
    )
    upcoming = "".join(f"<li>{escape(time)}</li>" for time in next_times) or "<li>none</li>"
    name = f"{view['namespace']}/{view['name']}"
    body = (
        f"<h1>Cron {escape(name)}</h1>"
        f"<p>schedule <code>{escape(str(spec.get('schedule')))}</code> in {escape(str(spec.get('timezone')))}, "
        f"policy {escape(str(spec.get('concurrencyPolicy')))}{' — suspended' if spec.get('suspend') else ''}</p>"
        f"<p class='sub'>last scheduled {escape(str(status.get('lastScheduleTime') or '-'))} · "
        f"missed ticks {escape(str(status.get('missedTicks')))} · "
        f"pruned runs {escape(str(status.get('prunedRuns')))}</p>"
        f"<h2>Next times</h2><ul id='next-times'>{upcoming}</ul>"
        "<h2>Ticks and their runs</h2><section class='card'><table><thead><tr><th>scheduled</th><th>trigger</th>"
        f"<th>run</th><th>phase</th><th>message</th></tr></thead><tbody>{runs}</tbody></table></section>"
    )
    return _document(f"Cron {name} — Aether", _linked_assets(), body)


def _js_string(text: str) -> str:
    return json.dumps(text).replace("</", "<\\/")
