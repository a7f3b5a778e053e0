"""Measuring: every measured round in a fresh process, peak memory as the kernel counts it,
and min/median/max over rounds."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

REPOSITORY = Path(__file__).resolve().parent.parent
# ru_maxrss is in kilobytes on Linux, in bytes on macOS.
_RSS_UNIT_BYTES = 1 if sys.platform == "darwin" else 1024


def own_peak_rss_mb() -> float:
    """The peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _RSS_UNIT_BYTES / 2**20


@frozen
class Finished:
    """A process that ended: its exit code, its peak memory, what it said on stderr."""

    returncode: int
    peak_rss_mb: float
    stderr: str


class Started:
    """A process with stdout discarded and stderr kept in a temporary file (a pipe could
    fill up and stall a long-running process nobody reads)."""

    def __init__(self, argv: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.argv = list(argv)
        # Open for the life of the process, closed by reap.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            self.argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr
        )

    def reap(self, timeout: float | None = None) -> Finished:
        """Wait for the process and read its own resource usage (``wait4``: this child's
        figures, where RUSAGE_CHILDREN would give the largest of every child so far).
        Killed after ``timeout`` seconds."""
        killer = threading.Timer(timeout, self.process.kill) if timeout is not None else None
        if killer is not None:
            killer.start()
        try:
            _pid, status, usage = os.wait4(self.process.pid, 0)
        finally:
            if killer is not None:
                killer.cancel()
        self.process.returncode = os.waitstatus_to_exitcode(status)
        self._stderr.seek(0)
        stderr = self._stderr.read().decode(errors="replace")
        self._stderr.close()
        return Finished(self.process.returncode, usage.ru_maxrss * _RSS_UNIT_BYTES / 2**20, stderr)


def time_process(
    argv: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 3600
) -> tuple[float, Finished]:
    """Wall-clock seconds of a whole process, from before it is started to its exit."""
    started = time.perf_counter()
    finished = Started(argv, cwd=cwd, env=env).reap(timeout)
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        raise ChildFailed(f"{' '.join(argv)} exited {finished.returncode}: {tail(finished.stderr)}")
    return seconds, finished


class ChildFailed(Exception):
    """A measured process failed: there is nothing to time."""


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_child(step: str, arguments: dict[str, Any], workdir: Path, timeout: float = 7200) -> Any:
    """Run ``python -m bench._child STEP`` in a fresh interpreter and return what it wrote."""
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=workdir, suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    try:
        argv = [sys.executable, "-m", "bench._child", step, json.dumps(arguments), str(out)]
        finished = Started(argv, cwd=REPOSITORY).reap(timeout)
        if finished.returncode != 0:
            raise ChildFailed(f"{step} {arguments.get('spec', {}).get('scenario', '')}: {tail(finished.stderr)}")
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


@frozen
class Spread:
    low: float
    median: float
    high: float

    @staticmethod
    def of(values: Sequence[float]) -> Spread:
        return Spread(min(values), statistics.median(values), max(values))
