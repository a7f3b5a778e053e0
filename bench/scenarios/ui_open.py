"""`ui N`: the web UI and the report of a run of N no-op tasks in Chromium: the seconds from
navigation to the run page having drawn its nodes, for the live page (`aether ui`) and for
the report opened from disk, and the report's size. Measured by `bench/scenarios/ui.py`;
this module turns its figures into rows."""

from __future__ import annotations

from pathlib import Path

from bench.databases import Databases
from bench.scenario import Row, Spec


def parts(spec: Spec) -> list[str]:
    return ["open"]


def measure(spec: Spec, part: str, workdir: Path, databases: Databases) -> list[Row]:
    # Imported here: it needs Playwright and a browser, which only this scenario does.
    from bench.scenarios.ui import measure_ui

    directory = Path(databases.directory) / "ui"
    directory.mkdir(parents=True, exist_ok=True)
    figures = measure_ui(spec.tasks, directory)
    tasks, events = int(figures["tasks"]), int(figures["events"])
    report = {"report_bytes": int(figures["report_bytes"])}
    # The browser's memory is not Aether's: no peak_rss_mb.
    return [
        Row("run page (aether ui)", float(figures["ui_open_seconds"]), tasks, events, extra=report),
        Row("report (file://)", float(figures["report_open_seconds"]), tasks, events, extra=report),
    ]
