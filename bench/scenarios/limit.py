"""`limit N`: the physical limit of the log on this machine, on the rows of a fan-out of N
no-op tasks recorded once by the engine (untimed): raw appends of those rows into a plain
sqlite3 table on disk, batched as the engine appended them, and raw reads of the rows with
their decoding. Every other scenario measures the same two figures on its own rows in the
same invocation, and reports its ratio to them.

One more row, compared with the raw appends: the same batches through the SQLite event
log's ``append_batch``, the store's own cost without the engine's."""

from __future__ import annotations

import json
from pathlib import Path

from bench.databases import Databases
from bench.measure import own_peak_rss_mb
from bench.scenario import Row, Source, Spec

# What measuring needs is imported inside the functions: the runner imports this module
# only to plan the rounds, and stays light.

BUILT = "limit-run.json"


def parts(spec: Spec) -> list[str]:
    return ["raw"]


def prepare(spec: Spec, workdir: Path, databases: Databases) -> None:
    from bench import documents
    from bench.engine_runs import run_on_bare_log

    # Always a SQLite file: the limit is the local disk's, whatever database the others use.
    db = Databases(databases.directory).new("limit")
    run = run_on_bare_log(documents.fanout(spec.tasks), db, threads=spec.threads)
    (workdir / BUILT).write_text(json.dumps({"db": db, "stream": run.stream}))


def measure(spec: Spec, part: str, workdir: Path, databases: Databases) -> list[Row]:
    from bench.raw_log import log_append_seconds, measure_limit, recorded_batches

    built = Source(**json.loads((workdir / BUILT).read_text()))
    batches = recorded_batches(built.db, built.stream)
    raw = Path(databases.directory) / "raw.db"
    raw.parent.mkdir(parents=True, exist_ok=True)
    limit = measure_limit(batches, raw)
    log_seconds = log_append_seconds(batches, raw)
    raw.unlink()
    rss = own_peak_rss_mb()
    extra = {"batches": limit.batches}
    events = limit.events
    return [
        Row("raw append", limit.append_seconds, spec.tasks, events, rss, source=built, extra=extra),
        Row("raw read+decode", limit.read_decode_seconds, spec.tasks, events, rss, source=built, extra=extra),
        Row("log append_batch", log_seconds, spec.tasks, events, rss, "append", built, extra),
    ]
