"""The benchmark runner, `python -m bench`, at sizes too small to time anything: every row
has its figures, they agree with each other, and the events are the measured run's, counted
in its log. No assertion here is about speed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aether.store import open_log

pytestmark = pytest.mark.spec("7.1", "7.3.2", "6.6", "1.3")

REPOSITORY = Path(__file__).resolve().parents[2]
KEYS = (
    "scenario",
    "tasks",
    "events",
    "seconds",
    "tasks_per_s",
    "events_per_s",
    "us_per_task",
    "peak_rss_mb",
    "ratio_to_limit",
    "min",
    "max",
)
INVOCATIONS = {
    "fanout": ["fanout", "50"],
    "chain": ["chain", "20"],
    "replay": ["replay", "20"],
    "limit": ["limit", "30"],
}


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """The JSON rows of one round of each scenario, the four run side by side."""
    started = {}
    for name, words in INVOCATIONS.items():
        workdir = tmp_path_factory.mktemp(name)
        argv = [sys.executable, "-m", "bench", *words, "--rounds", "1", "--json", "--quiet"]
        argv += ["--workdir", str(workdir), "--keep"]
        started[name] = subprocess.Popen(argv, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rows = {}
    for name, process in started.items():
        out, err = process.communicate(timeout=110)
        assert process.returncode == 0, err.decode()
        rows[name] = [json.loads(line) for line in out.decode().splitlines()]
    yield rows


def stream_length(run: dict[str, str]) -> int:
    log = open_log(run["db"])
    try:
        return log.stream_version(run["stream"])
    finally:
        log.close()


@pytest.mark.parametrize("name", list(INVOCATIONS))
def test_every_row_has_its_figures_and_they_agree(measured: dict[str, list[dict[str, Any]]], name: str) -> None:
    tasks = int(INVOCATIONS[name][1])
    for row in measured[name]:
        assert set(KEYS) <= set(row), row
        assert row["scenario"] == name
        assert row["tasks"] == tasks
        assert row["seconds"] > 0
        assert row["tasks_per_s"] == pytest.approx(tasks / row["seconds"])
        assert row["events_per_s"] == pytest.approx(row["events"] / row["seconds"])
        assert row["us_per_task"] == pytest.approx(row["seconds"] / tasks * 1e6)
        assert row["min"]["seconds"] <= row["seconds"] <= row["max"]["seconds"]
        assert row["peak_rss_mb"] > 1


@pytest.mark.parametrize("name", list(INVOCATIONS))
def test_the_events_are_the_measured_runs_counted_in_its_log(
    measured: dict[str, list[dict[str, Any]]], name: str
) -> None:
    for row in measured[name]:
        assert len(row["runs"]) == 1
        assert row["events"] == stream_length(row["runs"][0])
        # Each task records something of its own, whatever the catalog makes of it.
        assert row["events"] > row["tasks"]


@pytest.mark.parametrize("name", ["fanout", "chain", "replay"])
def test_a_run_is_compared_with_the_limit_measured_on_its_own_rows(
    measured: dict[str, list[dict[str, Any]]], name: str
) -> None:
    for row in measured[name]:
        assert row["limit_events_per_s"] > 0
        assert row["ratio_to_limit"] == pytest.approx(row["events_per_s"] / row["limit_events_per_s"])


def test_replay_reads_the_same_run_three_ways(measured: dict[str, list[dict[str, Any]]]) -> None:
    rows = measured["replay"]
    assert [row["row"] for row in rows] == ["fold", "verify", "at"]
    assert len({row["runs"][0]["stream"] for row in rows}) == 1
    at = rows[2]
    assert at["points"][0] == 1 and at["points"][-1] == at["events"]


def test_the_limit_is_the_raw_log_and_the_log_is_compared_with_it(
    measured: dict[str, list[dict[str, Any]]],
) -> None:
    raw_append, raw_read, log_append = measured["limit"]
    assert (raw_append["row"], raw_read["row"], log_append["row"]) == (
        "raw append",
        "raw read+decode",
        "log append_batch",
    )
    assert raw_append["ratio_to_limit"] is None and raw_read["ratio_to_limit"] is None
    assert log_append["ratio_to_limit"] == pytest.approx(log_append["events_per_s"] / log_append["limit_events_per_s"])
    assert all(row["batches"] >= 1 for row in measured["limit"])


def test_the_table_shows_every_row_of_every_scenario(
    measured: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(REPOSITORY))  # bench/ is beside the package, not in it
    from bench.results import table

    summaries = [row for rows in measured.values() for row in rows]
    shown = table(summaries)
    for row in summaries:
        assert row["label"] in shown and row["row"] in shown
    assert "us per task" in shown  # the chain's latency, said in words
