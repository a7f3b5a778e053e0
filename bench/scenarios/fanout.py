"""`fanout N`: N independent no-op tasks, all ready at once, through the
engine on a bare log with in-process worker threads, timed from submit to the run's end."""

from __future__ import annotations

from pathlib import Path

from bench.databases import Databases
from bench.scenario import Row, Spec

# What measuring needs is imported inside the functions: the runner imports this module
# only to plan the rounds, and stays light.


def parts(spec: Spec) -> list[str]:
    return ["run"]


def measure(spec: Spec, part: str, workdir: Path, databases: Databases) -> list[Row]:
    from bench import documents
    from bench.engine_runs import engine_round

    return engine_round("fanout", documents.fanout(spec.tasks), spec, databases)
