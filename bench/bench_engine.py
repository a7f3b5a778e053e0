"""End-to-end engine throughput: no-op tasks through the real engine, log, broker and workers.

    python bench/bench_engine.py fanout 1000
    python bench/bench_engine.py fanout 10000
    python bench/bench_engine.py chain 1000
    python bench/bench_engine.py all            # the three above

Each scenario is timed from submit to the run's completion, on a SQLite log in a
temporary directory. The baseline, measured in the same run, is the cost of the work
the engine cannot avoid doing for the same tasks: executing the no-op executor on
each assignment on one thread, plus appending the same number of events to a raw
sqlite3 table in the same grouped way. The ratio engine/baseline says how much the
scheduling itself costs on top.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aether.events.assignment import TaskAssignment
from aether.runtime.engine import Engine, run_stream
from aether.runtime.executors.base import ExecContext, ExecResult
from aether.store.sqlite import SqliteEventLog


class NoopExecutor:
    type = "noop"

    def validate_config(self, config: Any) -> list[Any]:
        return []

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        return ExecResult()


def fanout(n: int) -> dict[str, Any]:
    tasks = [{"name": f"t{i}", "executor": {"type": "noop"}} for i in range(n)]
    return _doc(f"fanout-{n}", tasks)


def chain(n: int) -> dict[str, Any]:
    tasks = [{"name": "t0", "executor": {"type": "noop"}}]
    tasks += [{"name": f"t{i}", "executor": {"type": "noop"}, "dependencies": [f"t{i - 1}"]} for i in range(1, n)]
    return _doc(f"chain-{n}", tasks)


def _doc(name: str, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "aether/v1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {"entrypoint": "main", "templates": [{"dag": {"name": "main", "tasks": tasks}}]},
    }


def run_engine(document: dict[str, Any], workers: int) -> tuple[float, int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        log = SqliteEventLog(Path(tmp) / "bench.db")
        engine = Engine(log, executors={"noop": NoopExecutor()}, workers=workers)
        engine.start()
        try:
            started = time.perf_counter()
            result = engine.submit(document)
            view = engine.wait(result.run_id, timeout=600)
            elapsed = time.perf_counter() - started
            events = log.stream_version(run_stream(result.run_id))
        finally:
            engine.stop()
            log.close()
    return elapsed, events, view["phase"]


def baseline(n_tasks: int, n_events: int) -> float:
    """No-op executions plus raw grouped sqlite3 inserts of as many ~200-byte rows."""
    executor = NoopExecutor()
    ctx = ExecContext(cancelled=lambda: False)
    request = TaskAssignment("a", "r", "n", 1, 0, "w", "default", "t", "", "noop")
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE e (position INTEGER PRIMARY KEY, stream TEXT, version INTEGER, data BLOB)")
        payload = b"x" * 200
        started = time.perf_counter()
        for _ in range(n_tasks):
            executor.execute(request, ctx)
        batch = 2000
        for start in range(0, n_events, batch):
            rows = [("run:1", v, payload) for v in range(start, min(start + batch, n_events))]
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO e (stream, version, data) VALUES (?, ?, ?)", rows)
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.close()
    return elapsed


def scenario(kind: str, n: int, workers: int) -> None:
    document = fanout(n) if kind == "fanout" else chain(n)
    elapsed, events, phase = run_engine(document, workers)
    base = baseline(n, events)
    print(
        f"{kind:6} {n:>7} tasks  {phase:9}  {elapsed:8.3f} s  {n / elapsed:9.0f} tasks/s  "
        f"{events / elapsed:9.0f} events/s  ({events} events)  "
        f"baseline {base:6.3f} s  ratio {elapsed / base:6.1f}x"
    )
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["fanout", "chain", "all"])
    parser.add_argument("n", type=int, nargs="?", default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.kind == "all":
        for kind, n in (("fanout", 1000), ("fanout", 10000), ("chain", 1000)):
            scenario(kind, n, args.workers)
    else:
        scenario(args.kind, args.n, args.workers)


if __name__ == "__main__":
    main()
