"""Child process of the crash test: append one big batch and wait to be SIGKILLed.

Usage: python store_crash_child.py <log path> <marker dir> <events>

Writes ``<marker dir>/started`` just before ``append_batch`` (the parent kills us some
milliseconds later, usually mid-transaction) and ``<marker dir>/committed`` once it
returned, so the parent knows when "all of it" is the only acceptable outcome.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import orjson

from aether.store import NO_STREAM, PendingEvent, SqliteEventLog

STREAMS = 4


def main() -> None:
    path, markers, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    log = SqliteEventLog(path)
    batch = [PendingEvent("Big", 1, orjson.dumps({"n": n, "pad": "x" * 150})) for n in range(count)]
    requests = [(f"big-{k}", batch[k::STREAMS], NO_STREAM) for k in range(STREAMS)]
    (markers / "started").touch()
    log.append_batch(requests)
    (markers / "committed").touch()
    time.sleep(60)  # the parent kills us; never close cleanly


if __name__ == "__main__":
    main()
