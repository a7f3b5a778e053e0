"""Watching child processes from tests: is a pid still running, and polling for a
condition (never a bare sleep) so the tests hold on a loaded machine."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

WAIT = 30.0


def alive(pid: int) -> bool:
    """Running and not a zombie (Linux: reads /proc)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def read_pid(path: Path) -> int:
    """The pid a command wrote to ``path``, once it is there."""
    assert wait_for(lambda: path.exists() and path.read_text().strip() != ""), f"{path} never written"
    return int(path.read_text().strip())
