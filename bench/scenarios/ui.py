"""``ui N``: how long a person waits to see an N-task run, in the live UI and in its report.

An N-task fan-out of no-op tasks is run to its end through the engine on SQLite in the
working directory (reused when the directory already holds that run, since building a
100,000-task run takes longer than measuring it). Then ``aether report`` writes the run's
report, and a headless Chromium (the system's, driven by Playwright) opens the run page of
a fresh ``aether ui`` process and the report from disk. Each open is timed from the start
of the navigation (the page's own clock, ``performance.now()``) to the first frame in which
the run page has drawn the graph of the run at its last event, its nodes (``data-node-id``)
there; ``ui_complete_seconds`` to the frame in which the whole page (timeline, events,
slider) shows it. The UI's times are a first open: the server has read nothing yet.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import time
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
# The graph is drawn when it shows the run's last event and has its nodes; the page is
# complete when everything on it (timeline, events, slider) shows that event too.
DRAWN = """last => {
  const root = document.getElementById("run-root");
  if (!root || root.getAttribute("data-graph-seq") !== String(last)) return false;
  return document.querySelector("#graph [data-node-id]") !== null ? performance.now() : false;
}"""
COMPLETE = """last => {
  const root = document.getElementById("run-root");
  if (!root || root.getAttribute("data-shown-seq") !== String(last) || root.hasAttribute("data-loading")) return false;
  return performance.now();
}"""
OPEN_TIMEOUT_MS = 600_000


class NoopExecutor:
    """An executor that does nothing: the run's cost is the engine's alone."""

    type = "noop"

    def validate_config(self, config: Any) -> list[Any]:
        return []

    def execute(self, request: Any, ctx: Any) -> Any:
        from aether.runtime.executors.base import ExecResult

        return ExecResult()


def fanout_document(tasks: int) -> dict[str, Any]:
    return {
        "apiVersion": "aether/v1",
        "kind": "Workflow",
        "metadata": {"name": f"fanout-{tasks}"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "dag": {
                        "name": "main",
                        "tasks": [{"name": f"t{i}", "executor": {"type": "noop"}} for i in range(tasks)],
                    }
                }
            ],
        },
    }


def build_run(tasks: int, workdir: pathlib.Path) -> tuple[pathlib.Path, str, int]:
    """(the database, the run id, its number of events) of a finished ``tasks``-task fan-out
    in ``workdir``, run now unless the directory holds it already."""
    from aether.runtime.engine import run_stream
    from aether.runtime.setup import sqlite_engine

    db, built = workdir / "aether.db", workdir / "run.json"
    if built.exists():
        known = json.loads(built.read_text())
        if known["tasks"] == tasks and db.exists():
            return db, str(known["runId"]), int(known["events"])
    db.unlink(missing_ok=True)
    engine = sqlite_engine(db, executors={"noop": NoopExecutor()}, workers=2)
    engine.start()
    try:
        run_id = engine.submit(fanout_document(tasks)).run_id
        view = engine.wait(run_id, timeout=3600)
        assert view["phase"] == "Succeeded", view["phase"]
        events = engine.log.stream_version(run_stream(run_id))
        engine.catch_up_projections()
    finally:
        engine.stop()
    built.write_text(json.dumps({"tasks": tasks, "runId": run_id, "events": events}))
    return db, run_id, events


def _aether(*args: str) -> list[str]:
    return [sys.executable, "-m", "aether", *args]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_ui(db: pathlib.Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(_aether("ui", "--db", str(db), "--port", str(port)), stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("aether ui did not start") from None
            time.sleep(0.05)


def _open_seconds(browser: Any, url: str, last_seq: int) -> tuple[float, float]:
    """Seconds from the navigation to ``url`` to the first frame showing the drawn graph of
    the run at its last event, and to the first showing the complete page."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(OPEN_TIMEOUT_MS)
        page.goto(url, wait_until="commit")
        drawn = page.wait_for_function(DRAWN, arg=last_seq, polling="raf", timeout=OPEN_TIMEOUT_MS)
        complete = page.wait_for_function(COMPLETE, arg=last_seq, polling="raf", timeout=OPEN_TIMEOUT_MS)
        return float(drawn.json_value()) / 1000, float(complete.json_value()) / 1000
    finally:
        context.close()


def measure_ui(tasks: int, workdir: pathlib.Path) -> dict[str, Any]:
    """The report's size and the seconds to open the run page of an N-task run in the live
    UI and as its report (see the module docstring)."""
    from playwright.sync_api import sync_playwright

    workdir.mkdir(parents=True, exist_ok=True)
    db, run_id, events = build_run(tasks, workdir)
    report = workdir / "report.html"
    written = subprocess.run(_aether("report", run_id, "-o", str(report), "--db", str(db)), capture_output=True)
    if written.returncode != 0:
        raise RuntimeError(f"aether report failed: {written.stderr.decode()}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            _report_graph, report_open = _open_seconds(browser, report.as_uri(), events)
            server, url = _start_ui(db)
            try:
                ui_open, ui_complete = _open_seconds(browser, f"{url}/runs/{run_id}", events)
            finally:
                server.terminate()
                server.wait(10)
        finally:
            browser.close()
    return {
        "scenario": "ui",
        "tasks": tasks,
        "events": events,
        "report_bytes": os.path.getsize(report),
        "report_open_seconds": round(report_open, 3),
        "ui_open_seconds": round(ui_open, 3),
        # The graph comes first; the timeline, events and slider once the run's history is read.
        "ui_complete_seconds": round(ui_complete, 3),
    }
