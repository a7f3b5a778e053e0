"""One step in a fresh interpreter, so that each measured round starts from nothing and its
peak memory is its own: ``python -m bench._child STEP ARGUMENTS_JSON OUT_JSON``.

STEP is ``prepare`` (untimed set-up of a scenario), ``measure`` (one round of one part) or
``limit`` (the raw log's figures on the rows of a measured run)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.databases import Databases
from bench.raw_log import measure_limit, recorded_batches
from bench.scenario import Spec, prepare
from bench.scenarios import scenario_module


def main(argv: list[str]) -> int:
    step, arguments, out = argv[0], json.loads(argv[1]), Path(argv[2])
    out.write_text(json.dumps(_run(step, arguments)))
    return 0


def _run(step: str, arguments: dict[str, Any]) -> Any:
    workdir = Path(arguments["workdir"])
    if step == "limit":
        limit = measure_limit(recorded_batches(arguments["db"], arguments["stream"]), workdir / "raw-limit.db")
        (workdir / "raw-limit.db").unlink(missing_ok=True)
        return {
            "events": limit.events,
            "batches": limit.batches,
            "append_events_per_s": limit.append_events_per_s,
            "read_decode_events_per_s": limit.read_decode_events_per_s,
        }
    spec = Spec.from_json(arguments["spec"])
    databases = Databases(**arguments["databases"])
    module = scenario_module(spec.scenario)
    if step == "prepare":
        prepare(module, spec, workdir, databases)
        return None
    if step == "measure":
        return [row.to_json() for row in module.measure(spec, arguments["part"], workdir, databases)]
    raise ValueError(f"unknown step {step!r}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
