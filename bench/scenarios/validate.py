"""`validate N`: loading and validating a document of N richly configured DAG tasks
(`load_document`, about 1 MB per 1,000 tasks; the 5,000-task one should take under a
second), timed the second time in its process. Beside it, `json.loads` of the same text:
the least any loader must do."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from bench.databases import Databases
from bench.measure import own_peak_rss_mb
from bench.scenario import Row, Spec

# What measuring needs is imported inside the functions: the runner imports this module
# only to plan the rounds, and stays light.

# The executor types the document uses, each accepting any config: validation of the
# document itself is timed, not of executor plug-ins.
EXECUTORS = ("shell", "python")


def parts(spec: Spec) -> list[str]:
    return ["load"]


def measure(spec: Spec, part: str, workdir: Path, databases: Databases) -> list[Row]:
    from aether.expr import check_expression
    from aether.model import load_document
    from bench import documents

    text = json.dumps(documents.validation_workload(spec.tasks), indent=1)
    checks = {kind: _no_problems for kind in EXECUTORS}

    def load() -> None:
        result = load_document(text, executor_checks=checks, expression_check=check_expression)
        assert result.ok, f"the document does not validate: {result.problems[:3]}"

    first = _seconds(load)
    seconds = _seconds(load)
    json_seconds = _seconds(lambda: json.loads(text))
    extra = {"document_mb": len(text) / 2**20, "first_seconds": first, "json_loads_seconds": json_seconds}
    return [Row("load_document", seconds, spec.tasks, peak_rss_mb=own_peak_rss_mb(), extra=extra)]


def _no_problems(_config: object) -> list[str]:
    return []


def _seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started
