"""`distributed N --workers 1 2 4`: engines that only decide and worker processes that only
execute, meeting in the database: N `echo` tasks submitted with `aether submit` to one
`aether serve --workers 0` and K `aether worker` processes (each running `--concurrency`
tasks at once, 4 unless given), all started and joined before the clock starts; timed from
the submit to the commit of the run's end. One row per K, on SQLite or on `--db
postgresql://...`. `cli-run N` is the same document run in one process."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from bench.aether_command import aether_command
from bench.databases import Databases
from bench.measure import ChildFailed, Finished, Started, tail
from bench.scenario import Row, Source, Spec

# What measuring needs is imported inside the functions: the runner imports this module
# only to plan the rounds, and stays light.

DOCUMENT = "fanout.json"
DEFAULT_CONCURRENCY = 4
JOIN_TIMEOUT_SECONDS = 120.0
RUN_TIMEOUT_SECONDS = 3600.0
POLL_SECONDS = 0.05


def parts(spec: Spec) -> list[str]:
    return [str(workers) for workers in spec.workers]


def prepare(spec: Spec, workdir: Path, databases: Databases) -> None:
    from bench import documents

    (workdir / DOCUMENT).write_text(json.dumps(documents.fanout(spec.tasks, executor="echo")))


def measure(spec: Spec, part: str, workdir: Path, databases: Databases) -> list[Row]:
    from aether.events.streams import run_stream
    from aether.store import open_log

    workers = int(part)
    concurrency = spec.concurrency or DEFAULT_CONCURRENCY
    db = databases.new(f"distributed-{workers}")
    open_log(db).close()  # the schema, so that workers find the database
    aether = aether_command()
    processes = [Started([*aether, "serve", "--db", db, "--workers", "0"])]
    processes += [
        Started([*aether, "worker", "--db", db, "--concurrency", str(concurrency), "--executors", "echo"])
        for _ in range(workers)
    ]
    ended: list[Finished] = []
    try:
        _wait_joined(db, processes, members=1 + workers)
        started_at = time.time()  # the log stamps commits with this clock
        submitted = subprocess.run(
            [*aether, "submit", str(workdir / DOCUMENT), "--db", db], capture_output=True, text=True, check=True
        )
        run_id = submitted.stdout.strip()
        finished_at, events = _wait_finished(db, run_id)
    finally:
        for started in processes:
            started.process.terminate()
        ended = [started.reap(timeout=60) for started in processes]
    serve, *worker_processes = ended
    extra = {
        "workers": workers,
        "concurrency": concurrency,
        "worker_rss_mb": max(finished.peak_rss_mb for finished in worker_processes),
    }
    name = f"serve + {workers} worker{'s' if workers > 1 else ''}"
    source = Source(db, run_stream(run_id))
    return [Row(name, finished_at - started_at, spec.tasks, events, serve.peak_rss_mb, "append", source, extra)]


def _wait_joined(db: str, processes: list[Started], members: int) -> None:
    """Until every process has joined as a member (it is then waiting for work)."""
    from aether.store import open_log

    log = open_log(db)
    try:
        coordination = log.coordination  # type: ignore[attr-defined]
        give_up = time.monotonic() + JOIN_TIMEOUT_SECONDS
        while len(coordination.members()) < members:
            for started in processes:
                if started.process.poll() is not None:
                    raise ChildFailed(f"{' '.join(started.argv)} exited: {tail(started.reap().stderr)}")
            if time.monotonic() > give_up:
                raise ChildFailed(f"{members} processes did not join in {JOIN_TIMEOUT_SECONDS} s")
            time.sleep(POLL_SECONDS)
    finally:
        log.close()


def _wait_finished(db: str, run_id: str) -> tuple[float, int]:
    """When the run's end was committed, and the run's events then."""
    from aether.events.catalog import WorkflowCompleted
    from aether.events.codec import decode
    from aether.events.streams import run_stream
    from aether.store import open_log

    log = open_log(db)
    stream = run_stream(run_id)
    try:
        give_up = time.monotonic() + RUN_TIMEOUT_SECONDS
        while time.monotonic() < give_up:
            version = log.stream_version(stream)
            # The end is among the last events (a late report may follow it).
            for stored in log.read(stream, max(1, version - 20), version) if version else ():
                if isinstance(decode(stored), WorkflowCompleted):
                    time.sleep(POLL_SECONDS)  # a report the end did not wait for
                    return stored.recorded_at, log.stream_version(stream)
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"run {run_id} did not finish in {RUN_TIMEOUT_SECONDS} s")
    finally:
        log.close()
