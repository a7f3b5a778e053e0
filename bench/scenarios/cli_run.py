"""`cli-run N`: `aether run fanout.yaml` of N `echo` tasks, as a user types it, in a new
directory (so on the default ./aether.db): the whole process, from launch to exit, with
start-up, loading and validating the document, submitting, scheduling, the read models
and the executor."""

from __future__ import annotations

from pathlib import Path

from bench.aether_command import aether_command, user_environment
from bench.databases import Databases
from bench.measure import time_process
from bench.scenario import Row, Source, Spec

# What measuring needs is imported inside the functions: the runner imports this module
# only to plan the rounds, and stays light.

DOCUMENT = "fanout.yaml"


def parts(spec: Spec) -> list[str]:
    return ["run"]


def prepare(spec: Spec, workdir: Path, databases: Databases) -> None:
    from bench import documents

    documents.write_yaml(documents.fanout(spec.tasks, executor="echo"), workdir / DOCUMENT)


def measure(spec: Spec, part: str, workdir: Path, databases: Databases) -> list[Row]:
    from aether.events.streams import RUN_PREFIX
    from aether.store import open_log

    home = Path(databases.directory) / "cli-run"
    home.mkdir(parents=True)
    (home / DOCUMENT).write_bytes((workdir / DOCUMENT).read_bytes())
    seconds, finished = time_process([*aether_command(), "run", DOCUMENT], cwd=home, env=user_environment())
    db = str(home / "aether.db")
    log = open_log(db)
    try:
        streams = list(log.streams(RUN_PREFIX))
        assert len(streams) == 1, f"expected one run in {db}, found {streams}"
        events = log.stream_version(streams[0])
    finally:
        log.close()
    source = Source(db, streams[0])
    return [Row("aether run", seconds, spec.tasks, events, finished.peak_rss_mb, "append", source)]
