"""Fold throughput: does the cost per event stay flat as a run grows? (ARCHITECTURE rule 7)

    python bench/bench_fold.py                      # N = 1,000 and 100,000 tasks
    python bench/bench_fold.py --sizes 1000 10000   # other sizes; the ratio compares last to first
    python bench/bench_fold.py --repeat 5           # best of 5 timings per size

For each N it builds a valid history of a fan-out DAG of N echo tasks by driving
``aether.scheduler.decide.decide`` directly: the submit, then for every dispatched
attempt a ``TaskStarted`` and a ``TaskResultReported`` with code 0, constructed here.
It then encodes every event (the bytes a log would hold) and times, separately:

- decode: ``decode_raw`` of every payload into event objects;
- fold: ``aether.reducers.run.fold`` over the decoded events, from nothing to the final state.

The figures printed are events/s and µs per event for each, and the ratio of the fold's
cost per event at the largest N to the smallest (target <= 1.5).

The inputs are built before timing and frozen out of the garbage collector
(``gc.freeze``), so the timings measure the fold's own work, not the collector walking
hundreds of thousands of decoded events a real engine would never hold at once.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from typing import Any

from aether.events.catalog import Event, TaskResultReported, TaskStarted
from aether.events.codec import decode_raw, encode
from aether.events.times import format_ms
from aether.model.limits import Limits
from aether.reducers.run import fold
from aether.runtime.submission import load_workflow, submitted_event
from aether.scheduler.decide import decide
from aether.scheduler.effects import Dispatch
from aether.store.base import PendingEvent

T0_MS = 1_772_359_200_000  # 2026-03-01T10:00:00Z
SAMPLE_EVENTS = 300_000  # events timed per size at least (up to 30 repeats)
LIMITS = Limits(nodes_per_run=1_000_000, events_per_run=50_000_000)


def fanout_document(n: int) -> dict[str, Any]:
    tasks = [{"name": f"t{i}", "executor": {"type": "echo"}} for i in range(n)]
    return {
        "apiVersion": "aether/v1",
        "kind": "Workflow",
        "metadata": {"name": f"fanout-{n}"},
        "spec": {"entrypoint": "main", "templates": [{"dag": {"name": "main", "tasks": tasks}}]},
    }


def build_history(n: int) -> list[Event]:
    """A complete, successful run of a fan-out of ``n`` tasks, every decision by ``decide``."""
    prepared = load_workflow(fanout_document(n), limits=LIMITS)
    submitted = submitted_event(prepared, run_id=f"bench-{n}", at=format_ms(T0_MS), variables={}, limits=LIMITS)
    decision = decide(None, submitted)
    events: list[Event] = [submitted, *decision.events]
    state = decision.state
    pending = [e.assignment for e in decision.effects if isinstance(e, Dispatch)]
    clock = T0_MS
    # Worker reports in dispatch order, one millisecond apart.
    for assignment in pending:
        for trigger in (
            TaskStarted(assignment.node_id, assignment.attempt, format_ms(clock), "bench-worker"),
            TaskResultReported(assignment.node_id, assignment.attempt, format_ms(clock + 1), 0),
        ):
            decision = decide(state, trigger)
            events += [trigger, *decision.events]
            state = decision.state
            pending += [e.assignment for e in decision.effects if isinstance(e, Dispatch)]
        clock += 1
    assert state.phase == "Succeeded", f"the synthetic run ended {state.phase}: {state.message}"
    assert state.node_count == n + 1
    return events


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best = float("inf")
    result: Any = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def measure(n: int, repeat: int) -> dict[str, float]:
    started = time.perf_counter()
    events = build_history(n)
    build_s = time.perf_counter() - started
    encoded: list[PendingEvent] = [encode(e) for e in events]
    raw = [(p.type, p.schema_version, p.data) for p in encoded]
    del events
    # A small history folds in a fraction of a second: time it more often, or the best
    # of a few is mostly scheduler noise.
    repeat = max(repeat, min(30, SAMPLE_EVENTS // len(raw)))
    gc.collect()
    gc.freeze()
    try:
        decode_s, decoded = best_of(repeat, lambda: [decode_raw(t, v, d) for t, v, d in raw])
        gc.freeze()  # the decoded list is input to the fold, not its work
        fold_s, state = best_of(repeat, lambda: fold(decoded))
    finally:
        gc.unfreeze()
    assert state is not None and state.phase == "Succeeded" and state.event_count == len(raw)
    count = len(raw)
    return {
        "n": n,
        "events": count,
        "bytes": sum(len(d) for _, _, d in raw),
        "build_s": build_s,
        "decode_s": decode_s,
        "fold_s": fold_s,
        "decode_us": decode_s / count * 1e6,
        "fold_us": fold_s / count * 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument(
        "--repeat", type=int, default=3, help="timings per size (more for small sizes); the best one counts"
    )
    args = parser.parse_args(argv)

    results = []
    header = (
        f"{'tasks':>8} {'events':>9} {'MB':>7} {'build s':>8} {'decode ev/s':>12} {'decode µs':>10} "
        f"{'fold ev/s':>11} {'fold µs':>8}"
    )
    print(header)
    for n in args.sizes:
        r = measure(n, args.repeat)
        results.append(r)
        print(
            f"{r['n']:>8,} {r['events']:>9,} {r['bytes'] / 1e6:>7.1f} {r['build_s']:>8.1f} "
            f"{r['events'] / r['decode_s']:>12,.0f} {r['decode_us']:>10.2f} "
            f"{r['events'] / r['fold_s']:>11,.0f} {r['fold_us']:>8.2f}",
            flush=True,
        )
    if len(results) > 1:
        first, last = results[0], results[-1]
        fold_ratio = last["fold_us"] / first["fold_us"]
        decode_ratio = last["decode_us"] / first["decode_us"]
        verdict = "ok" if fold_ratio <= 1.5 else "OVER TARGET"
        print(
            f"fold cost per event at {last['n']:,} vs {first['n']:,} tasks: x{fold_ratio:.2f} "
            f"(target <= 1.5: {verdict}); decode: x{decode_ratio:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
