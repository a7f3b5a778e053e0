"""Engines that only decide and worker processes that only execute, meeting in the database:
``fanout N`` of ``echo`` tasks through ``aether serve --workers 0`` and K ``aether worker``
processes, on PostgreSQL and on SQLite, each timed from ``aether submit`` to the run's end.

    python bench/bench_distributed.py                 # fanout 10000, K = 1, 2, 4
    python bench/bench_distributed.py --tasks 2000 --workers 1 2
    python bench/bench_distributed.py --postgres postgresql://user@host/db

Without ``--postgres`` a throw-away PostgreSQL cluster is started (from this machine's
PostgreSQL binaries, with the server's default durability) and removed at the end; run
it from the repository's root. Each worker process runs ``--concurrency`` tasks at once.

The baseline, measured in the same run, is ``aether run`` of the same document on SQLite:
one process whose engine hands tasks to its own worker threads in memory. The ratio says
what handing every task through the database costs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aether.events.catalog import WorkflowCompleted
from aether.events.codec import decode
from aether.events.streams import run_stream
from aether.store import open_log

AETHER = [sys.executable, "-m", "aether"]


def fanout_document(n: int) -> dict[str, Any]:
    tasks = [{"name": f"t{i}", "executor": {"type": "echo"}} for i in range(n)]
    return {
        "apiVersion": "aether/v1",
        "kind": "Workflow",
        "metadata": {"name": f"fanout-{n}"},
        "spec": {"entrypoint": "main", "templates": [{"dag": {"name": "main", "tasks": tasks}}]},
    }


@contextmanager
def postgres_server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.support import postgres_cluster

    directory = Path(tempfile.mkdtemp(prefix="aether-bench-postgres-"))
    try:
        server = postgres_cluster.start(directory, durable=True)
        postgres_cluster.wait_until_accepting(server)
        yield server
    finally:
        postgres_cluster.stop(directory)


def fresh_postgres_database(server: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + "/" + name


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*AETHER, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def wait_finished(db: str, run_id: str, timeout: float = 1800) -> str:
    log = open_log(db)
    stream = run_stream(run_id)
    try:
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            version = log.stream_version(stream)
            # The end is among the last events (a late report may follow it).
            for stored in log.read(stream, max(1, version - 20), version) if version else ():
                event = decode(stored)
                if isinstance(event, WorkflowCompleted):
                    return str(event.phase)
            time.sleep(0.05)
        raise TimeoutError(f"run {run_id} did not finish in {timeout} s")
    finally:
        log.close()


def distributed(db: str, document: Path, workers: int, concurrency: int) -> tuple[float, str]:
    """Seconds from submit to the end of the run, with one deciding serve and ``workers``
    worker processes (all started and ready before the clock starts)."""
    subprocess.run([*AETHER, "template", "list", "--db", db], capture_output=True, check=False)  # creates the schema
    processes = [start("serve", "--db", db, "--workers", "0")]
    processes += [
        start("worker", "--db", db, "--concurrency", str(concurrency), "--executors", "echo") for _ in range(workers)
    ]
    try:
        time.sleep(3.0)  # every process imported, joined and waiting
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode() if process.stderr else "a process exited")
        started = time.perf_counter()
        submitted = subprocess.run(
            [*AETHER, "submit", str(document), "--db", db], capture_output=True, text=True, check=True
        )
        phase = wait_finished(db, submitted.stdout.strip())
        return time.perf_counter() - started, phase
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(60)


def in_process(db: str, document: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([*AETHER, "run", str(document), "--db", db, "--json"], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    return elapsed, "Succeeded" if done.returncode == 0 else f"exit {done.returncode}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--postgres", default=os.environ.get("AETHER_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, postgres_server(args.postgres) as server:
        document = Path(tmp) / "fanout.json"
        document.write_text(json.dumps(fanout_document(args.tasks)))
        base, base_phase = in_process(str(Path(tmp) / "baseline.db"), document)
        rate = args.tasks / base
        print(f"baseline  aether run, SQLite, in-process workers   {base:8.2f} s  {rate:7.0f} tasks/s  {base_phase}")
        for workers in args.workers:
            for kind in ("postgres", "sqlite"):
                db = (
                    fresh_postgres_database(server, f"bench_{workers}")
                    if kind == "postgres"
                    else str(Path(tmp) / f"bench-{workers}.db")
                )
                elapsed, phase = distributed(db, document, workers, args.concurrency)
                print(
                    f"{kind:9} serve --workers 0 + {workers} worker process{'es' if workers > 1 else '  '}"
                    f"  {elapsed:8.2f} s  {args.tasks / elapsed:7.0f} tasks/s  {phase:9}  ratio {elapsed / base:5.1f}x"
                )
                sys.stdout.flush()


if __name__ == "__main__":
    main()
