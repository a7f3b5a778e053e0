"""Append throughput of the SQLite event log against raw sqlite3 on the same machine.

    python bench/bench_append.py [--events N] [--batch 500] [--streams 50]
                                 [--synchronous NORMAL] [--repeat 3]

Every figure is measured in this run, on fresh files in one temporary directory, with
the same pragmas (WAL, the chosen ``synchronous``, ``busy_timeout``) and the same rows
(~200-byte orjson payloads spread over ``--streams`` streams):

- aether ``append``: one event per call, so one commit per event;
- aether ``append_batch``: ``--batch`` events per call over every stream (group commit);
- raw sqlite3 into the same ``events`` table: one commit per row, ``--batch`` rows per
  commit, and one transaction for everything.

Each scenario runs ``--repeat`` times and the best time is kept (the least disturbed by
the rest of the machine). The ratio column is the Aether figure over its raw counterpart.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from aether.store import NO_STREAM, AppendRequest, PendingEvent, SqliteEventLog

Row = tuple[str, int, str, int, bytes, float]

RAW_SCHEMA = """
CREATE TABLE events (
    position INTEGER PRIMARY KEY,
    stream TEXT NOT NULL,
    version INTEGER NOT NULL,
    type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    data BLOB NOT NULL,
    recorded_at REAL NOT NULL,
    UNIQUE (stream, version)
)
"""
RAW_INSERT = "INSERT INTO events (stream, version, type, schema_version, data, recorded_at) VALUES (?, ?, ?, ?, ?, ?)"


def make_events(count: int, streams: int, batch: int) -> list[tuple[str, PendingEvent]]:
    """``count`` events over ``streams`` streams, each ~200 bytes of JSON.

    Round-robin over the streams, then each ``batch``-sized chunk ordered by stream: the
    order ``append_batch`` writes a chunk in, so every scenario inserts identical rows in
    an identical order (B-tree locality would otherwise differ between them).
    """
    out: list[tuple[str, PendingEvent]] = []
    for n in range(count):
        stream = f"run:{n % streams:04d}"
        body = {
            "node": f"main/batch/loop[{n % 97}]/score",
            "attempt": n // streams + 1,
            "phase": "Succeeded",
            "outputs": {"parameters": [{"name": "result", "value": f"{n:08d}"}]},
            "startedAt": "2024-05-01T12:00:00Z",
            "finishedAt": "2024-05-01T12:00:03Z",
            "message": "",
        }
        out.append((stream, PendingEvent("TaskResultRecorded", 1, orjson.dumps(body))))
    chunks = [out[i : i + batch] for i in range(0, count, batch)]
    return [item for chunk in chunks for item in sorted(chunk, key=lambda pair: pair[0])]


def as_rows(evs: list[tuple[str, PendingEvent]]) -> list[Row]:
    versions: dict[str, int] = {}
    rows = []
    now = time.time()
    for stream, e in evs:
        versions[stream] = versions.get(stream, 0) + 1
        rows.append((stream, versions[stream], e.type, e.schema_version, e.data, now))
    return rows


def aether_single(path: Path, evs: list[tuple[str, PendingEvent]], sync: str) -> float:
    with SqliteEventLog(path, synchronous=sync) as log:
        versions: dict[str, int] = {}
        started = time.perf_counter()
        for stream, e in evs:
            versions[stream] = log.append(stream, [e], versions.get(stream, NO_STREAM))
        return time.perf_counter() - started


def batches(evs: list[tuple[str, PendingEvent]], batch: int) -> list[list[AppendRequest]]:
    """The ``append_batch`` calls, built before timing (as the raw rows are): one request
    per stream per chunk, with the expected version each stream will be at."""
    versions: dict[str, int] = {}
    out = []
    for i in range(0, len(evs), batch):
        by_stream: dict[str, list[PendingEvent]] = {}
        for stream, e in evs[i : i + batch]:
            by_stream.setdefault(stream, []).append(e)
        requests: list[AppendRequest] = []
        for stream, group in by_stream.items():
            requests.append((stream, group, versions.get(stream, NO_STREAM)))
            versions[stream] = versions.get(stream, 0) + len(group)
        out.append(requests)
    return out


def aether_grouped(path: Path, calls: list[list[AppendRequest]], sync: str) -> float:
    with SqliteEventLog(path, synchronous=sync) as log:
        started = time.perf_counter()
        for requests in calls:
            log.append_batch(requests)
        return time.perf_counter() - started


def raw_connect(path: Path, sync: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {sync}")
    conn.execute(RAW_SCHEMA)
    return conn


def raw_commits(path: Path, rows: list[Row], sync: str, per_commit: int) -> float:
    conn = raw_connect(path, sync)
    try:
        started = time.perf_counter()
        if per_commit == 1:
            for row in rows:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(RAW_INSERT, row)
                conn.execute("COMMIT")
        else:
            for i in range(0, len(rows), per_commit):
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(RAW_INSERT, rows[i : i + per_commit])
                conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


def best_of(repeat: int, directory: Path, name: str, run: Callable[[Path], float]) -> float:
    return min(run(directory / f"{name}-{attempt}.db") for attempt in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--synchronous", default="NORMAL", choices=["OFF", "NORMAL", "FULL", "EXTRA"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    evs = make_events(args.events, args.streams, args.batch)
    rows = as_rows(evs)
    calls = batches(evs, args.batch)
    sync, batch, n = args.synchronous, args.batch, args.events
    avg = sum(len(e.data) for _, e in evs) / n

    with tempfile.TemporaryDirectory(prefix="aether-bench-") as tmp:
        d = Path(tmp)
        t = {
            "aether_single": best_of(args.repeat, d, "a1", lambda p: aether_single(p, evs, sync)),
            "aether_grouped": best_of(args.repeat, d, "ab", lambda p: aether_grouped(p, calls, sync)),
            "raw_single": best_of(args.repeat, d, "r1", lambda p: raw_commits(p, rows, sync, 1)),
            "raw_batch": best_of(args.repeat, d, "rb", lambda p: raw_commits(p, rows, sync, batch)),
            "raw_all": best_of(args.repeat, d, "ra", lambda p: raw_commits(p, rows, sync, len(rows))),
        }

    rate = {k: n / v for k, v in t.items()}
    print(
        f"{n} events, payload {avg:.0f} B avg, {args.streams} streams, synchronous={sync}, "
        f"WAL, best of {args.repeat}, SQLite {sqlite3.sqlite_version}"
    )
    lines = [
        ("aether append (1 event/commit)", "aether_single", "raw_single", "raw 1 row/commit"),
        (f"aether append_batch ({batch}/commit)", "aether_grouped", "raw_all", "raw 1 txn for all"),
        ("", "aether_grouped", "raw_batch", f"raw {batch} rows/commit"),
        ("raw sqlite3, 1 row/commit", "raw_single", None, ""),
        (f"raw sqlite3, {batch} rows/commit", "raw_batch", None, ""),
        ("raw sqlite3, 1 txn for all", "raw_all", None, ""),
    ]
    print(f"{'scenario':<36} {'events/s':>12} {'µs/event':>9}   ratio vs raw")
    for label, key, against, against_label in lines:
        ratio = f"{rate[key] / rate[against]:.2f}x of {against_label}" if against else ""
        if label:
            print(f"{label:<36} {rate[key]:>12,.0f} {1e6 / rate[key]:>9.1f}   {ratio}")
        else:
            print(f"{'':<36} {'':>12} {'':>9}   {ratio}")


if __name__ == "__main__":
    main()
