"""History and time travel on a long run: ``aether history`` and ``aether replay --at``.

    python bench/bench_history.py                   # about 100,000 events (14,285 tasks)
    python bench/bench_history.py --tasks 142857    # about 1,000,000 events

Builds a real run history (a fan-out whose every decision comes from ``decide``), stores
it in a SQLite log, lets the projector build the read models (the view history among
them) and the snapshots as ``aether serve`` would, and then times, on that file:

- streaming the whole history with one-line summaries (``aether history RUN``), and the
  phases-only audit trail (``--phases-only``, read from the ``phase_history`` table);
- ``aether replay RUN --at SEQ --json`` at several points: the view read from the view
  history and printed as JSON, against the baseline of the nearest run-state snapshot
  plus the tail, folded and turned into the same JSON (how time travel worked before the
  view history), measured in the same run. Each point's two results are compared;
- ``--at TIME`` (finding the event) and ``--diff A B``;
- the file's size and the share the view history takes.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson
from bench_fold import T0_MS, build_history

from aether.events.codec import encode
from aether.events.streams import run_stream
from aether.events.times import format_ms
from aether.projections.history_entries import iter_history
from aether.projections.view_at import view_of_state
from aether.projections.view_history import ViewHistoryModel
from aether.runtime.setup import sqlite_engine
from aether.runtime.time_travel_queries import TimeTravel
from aether.store.audit import iter_phase_history
from aether.store.base import NO_STREAM
from aether.store.sqlite import SqliteEventLog

VIEW_TABLES = tuple(spec.name for spec in ViewHistoryModel.tables)


def timed(fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def table_sizes(path: Path) -> dict[str, int]:
    """Bytes per table and index (SQLite's dbstat), after a checkpoint of the WAL."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
        return {str(name): int(size) for name, size in rows}
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=14_285, help="fan-out width (7 events per task)")
    parser.add_argument("--baseline-points", type=int, default=4, help="points also timed the old way")
    parser.add_argument("--keep", type=Path, help="keep the database in this directory (to time the CLI on it)")
    args = parser.parse_args()

    build_s, events = timed(lambda: build_history(args.tasks))
    run_id = events[0].run_id  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        path = (args.keep or Path(tmp)) / "history.db"
        path.unlink(missing_ok=True)
        log = SqliteEventLog(path)
        for start in range(0, len(events), 5000):
            log.append(
                run_stream(run_id),
                [encode(e) for e in events[start : start + 5000]],
                NO_STREAM if start == 0 else start,
            )
        log.close()
        total = len(events)
        del events
        print(f"run of {args.tasks} tasks: {total} events (built by decide in {build_s:.1f} s)")

        engine = sqlite_engine(path, workers=0)
        assert engine.projector is not None
        project_s, _ = timed(engine.catch_up_projections)
        print(f"projector: read models, view history and snapshots for {total} events in {project_s:.1f} s")
        sizes = table_sizes(path)
        whole = os.path.getsize(path)
        view_bytes = sum(size for name, size in sizes.items() if name.startswith(VIEW_TABLES))
        log_bytes = sum(size for name, size in sizes.items() if name.startswith("events"))
        print(
            f"file: {whole / 1e6:,.0f} MB; events {log_bytes / 1e6:,.0f} MB, "
            f"view history {view_bytes / 1e6:,.0f} MB ({view_bytes / log_bytes:.2f}x the events)"
        )

        history_s, count = timed(lambda: sum(1 for _ in iter_history(engine.events(run_id))))
        print(f"history:               {count} entries in {history_s:.2f} s  ({count / history_s:,.0f} events/s)")
        db = engine.projector.db
        phases_s, phases = timed(lambda: sum(1 for _ in iter_phase_history(db, run_id)))
        print(f"history --phases-only: {phases} phase changes in {phases_s:.2f} s  ({phases / phases_s:,.0f}/s)")

        travel = TimeTravel(engine)
        points = [1, total // 10, total // 2, total - 1234, total]
        print(f"{'replay --at':>14}  {'view history':>13}  {'snapshot + tail':>16}  ratio")
        for i, point in enumerate(points):
            travel_s, printed = timed(lambda point=point: travel.view_at(run_id, point).to_json())  # type: ignore[union-attr]
            if i >= args.baseline_points:
                print(f"{point:>14}  {travel_s * 1000:>10.0f} ms  {'-':>16}")
                continue
            fold_s, folded = timed(lambda point=point: view_of_state(engine.state_at(run_id, point)).to_json())
            assert orjson.loads(printed) == orjson.loads(folded), f"the two ways differ at event {point}"
            print(f"{point:>14}  {travel_s * 1000:>10.0f} ms  {fold_s * 1000:>13.0f} ms  {fold_s / travel_s:5.1f}x")

        middle = format_ms(T0_MS + args.tasks // 2)
        time_s, found = timed(lambda: travel.seq_at_time(run_id, middle))
        print(f"replay --at {middle}: event {found} found in {time_s * 1000:.1f} ms")
        diff_s, diff = timed(lambda: travel.diff(run_id, total // 2, total // 2 + 10_000))
        print(
            f"replay --diff {total // 2} {total // 2 + 10_000}: {len(diff['nodes'])} nodes changed, "
            f"{diff_s * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
