"""History and time travel on a long run: ``aether history`` and ``aether replay --at``.

    python bench/bench_history.py [--tasks 14285]     # about 100,000 events

Builds a real run history (a fan-out whose every decision comes from ``decide``), stores
it in a SQLite log, lets the projector take snapshots as ``aether serve`` would, and then
times, on that file:

- streaming the whole history with one-line summaries (``aether history RUN``), and the
  phases-only audit trail (``--phases-only``);
- loading the run as it stood at several points (``aether replay RUN --at SEQ``), from the
  nearest snapshot plus the tail, against the baseline of folding from the first event
  (what loading costs without snapshots), measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_fold import build_history

from aether.events.codec import encode
from aether.events.streams import run_stream
from aether.projections.history import iter_history
from aether.reducers.run import apply
from aether.runtime.setup import sqlite_engine
from aether.store.base import NO_STREAM
from aether.store.sqlite import SqliteEventLog


def timed(fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=14_285, help="fan-out width (7 events per task)")
    args = parser.parse_args()

    build_s, events = timed(lambda: build_history(args.tasks))
    run_id = events[0].run_id  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.db"
        log = SqliteEventLog(path)
        for start in range(0, len(events), 5000):
            log.append(run_stream(run_id), [encode(e) for e in events[start : start + 5000]],
                       NO_STREAM if start == 0 else start)
        log.close()
        total = len(events)
        print(f"run of {args.tasks} tasks: {total} events (built by decide in {build_s:.1f} s)")

        engine = sqlite_engine(path, workers=0)
        assert engine.projector is not None
        project_s, _ = timed(engine.catch_up_projections)
        print(f"projector: read models and snapshots for {total} events in {project_s:.2f} s")

        history_s, count = timed(lambda: sum(1 for _ in iter_history(engine.events(run_id))))
        print(f"history:              {count} entries in {history_s:.2f} s  ({count / history_s:,.0f} events/s)")
        phases_s, phases = timed(lambda: sum(1 for _ in iter_history(engine.events(run_id), phases_only=True)))
        print(f"history --phases-only: {phases} phase changes in {phases_s:.2f} s")

        print(f"{'replay --at':>14}  {'snapshot + tail':>16}  {'fold from event 1':>18}  ratio")
        for point in (total // 10, total // 2, total - 1234, total):
            snap_s, state = timed(lambda point=point: engine.state_at(run_id, point))

            def full_fold(point: int = point):  # type: ignore[no-untyped-def]
                folded = None
                for _seq, event in engine.events(run_id, 1, point):
                    folded = apply(folded, event)
                return folded

            fold_s, folded = timed(full_fold)
            assert folded == state, f"snapshot + tail differs from a full fold at {point}"
            print(f"{point:>14}  {snap_s * 1000:>13.0f} ms  {fold_s * 1000:>15.0f} ms  {fold_s / snap_s:5.1f}x")


if __name__ == "__main__":
    main()
