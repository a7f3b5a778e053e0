"""`replay N`: reading back a finished run of N no-op tasks (built once, untimed, as
`aether run` records it: log, read models, view history), one row per way of reading it:

- fold: read, decode and apply every event of the run (loading a run without a snapshot);
- verify: `aether.history.verify` re-decides every recorded input and compares the
  decisions (`aether replay RUN --verify`);
- at: time travel to a few points of the run (`aether replay RUN --at SEQ --json`, through
  the library): the seconds per point.

Each is timed the second time it runs in its process, as the limit's reads are: the first
builds the codec's converters and fills the caches (start-up is the `cli` scenario's).
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.databases import Databases
from bench.measure import own_peak_rss_mb
from bench.scenario import Row, Source, Spec

# What measuring needs is imported inside the functions: the runner imports this module
# only to plan the rounds, and stays light.

BUILT = "replay-run.json"
# Where time travel goes, as fractions of the run's events (the first and the last included).
POINTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def parts(spec: Spec) -> list[str]:
    return ["fold", "verify", "at"]


def prepare(spec: Spec, workdir: Path, databases: Databases) -> None:
    from bench import documents
    from bench.engine_runs import run_with_read_models

    db = databases.new("replay")
    run = run_with_read_models(documents.fanout(spec.tasks), db, threads=spec.threads)
    (workdir / BUILT).write_text(json.dumps({"db": db, "run_id": run.run_id, "stream": run.stream}))


def measure(spec: Spec, part: str, workdir: Path, databases: Databases) -> list[Row]:
    from bench import run_reads

    built = json.loads((workdir / BUILT).read_text())
    db, run_id = built["db"], built["run_id"]
    events = run_reads.stream_length(db, run_id)
    extra: dict[str, object] = {}
    if part == "fold":
        seconds = run_reads.timed_when_warm(lambda: run_reads.fold_run(db, run_id))
    elif part == "verify":
        seconds = run_reads.timed_when_warm(lambda: run_reads.verify(db, run_id))
    else:
        points = sorted({max(1, round(events * fraction)) for fraction in POINTS})
        seconds = run_reads.time_travel_seconds(db, run_id, points) / len(points)
        extra["points"] = points
    source = Source(db, built["stream"])
    return [Row(part, seconds, spec.tasks, events, own_peak_rss_mb(), "read", source, extra)]
