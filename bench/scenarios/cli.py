"""`cli [N]`: whole-process start-up of the command as a user types it, from launch to exit:
`aether --version`, `aether --help`, and `aether get RUN` and `aether list` on the default
./aether.db holding one finished run of N `echo` tasks (10 unless given; built untimed).
Each command runs a few times per round; every run is one sample."""

from __future__ import annotations

import json
from pathlib import Path

from bench.aether_command import aether_command, user_environment
from bench.databases import Databases
from bench.measure import time_process
from bench.scenario import Row, Spec

# What measuring needs is imported inside the functions: the runner imports this module
# only to plan the rounds, and stays light.

RUNS_PER_ROUND = 3
DEFAULT_TASKS = 10
BUILT = "cli-run.json"
COMMANDS = {
    "--version": ["--version"],
    "--help": ["--help"],
    "get": ["get", "{run}"],
    "list": ["list"],
}


def parts(spec: Spec) -> list[str]:
    return list(COMMANDS)


def prepare(spec: Spec, workdir: Path, databases: Databases) -> None:
    from aether.runtime.executors import builtin_executors
    from bench import documents
    from bench.engine_runs import run_with_read_models

    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    tasks = spec.tasks or DEFAULT_TASKS
    run = run_with_read_models(
        documents.fanout(tasks, executor="echo"), str(home / "aether.db"), threads=4, executors=builtin_executors()
    )
    (workdir / BUILT).write_text(json.dumps({"run_id": run.run_id}))


def measure(spec: Spec, part: str, workdir: Path, databases: Databases) -> list[Row]:
    run_id = json.loads((workdir / BUILT).read_text())["run_id"]
    argv = [*aether_command(), *(word.format(run=run_id) for word in COMMANDS[part])]
    rows = []
    for _ in range(RUNS_PER_ROUND):
        seconds, finished = time_process(argv, cwd=workdir / "home", env=user_environment())
        rows.append(Row(f"aether {part}", seconds, peak_rss_mb=finished.peak_rss_mb))
    return rows
