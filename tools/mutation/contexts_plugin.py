"""pytest plugin used while building the coverage map: each test runs in its own coverage
context (its node id), and every test's duration and outcome are written to the JSON file
named by ``MUTATE_TEST_LOG`` so the mutation runs can order tests and set timeouts."""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from typing import Any

import coverage
import pytest

_durations: dict[str, float] = {}
_failed: set[str] = set()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, None]:
    measuring = coverage.Coverage.current()
    if measuring is not None:
        measuring.switch_context(item.nodeid)
    yield
    if measuring is not None:
        measuring.switch_context("")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration
    if report.failed:
        _failed.add(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("MUTATE_TEST_LOG")
    if target:
        with open(target, "w", encoding="utf-8") as log:
            json.dump({"durations": _durations, "failed": sorted(_failed)}, log)
