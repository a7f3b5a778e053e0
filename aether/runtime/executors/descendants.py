"""The processes a task started, found through ``/proc`` so that cancel reaches them all.

Signalling a task's process group misses every process that left the group (``setsid``,
a daemonising program): it keeps running after the task was cancelled. The kernel still
knows it as a descendant of the task's first process as long as that process lives, so
the descendants are collected while it does and signalled one by one next to the group.

A process is remembered with its start time (field 22 of ``/proc/PID/stat``), so a pid
that was reused by an unrelated process after the descendant exited is never signalled.
Where ``/proc`` does not exist nothing is found and only the group is signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

PROC = Path("/proc")

# (pid, start time in clock ticks since boot)
ProcessKey = tuple[int, int]


def _stat(pid: int) -> tuple[int, int] | None:
    """``(parent pid, start time)`` of ``pid``, or None once it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return int(fields[1]), int(fields[19])
    except (IndexError, ValueError):
        return None


def descendants(root: int) -> set[ProcessKey]:
    """Every living descendant of ``root`` (not ``root`` itself), whatever its group or session."""
    children: dict[int, list[ProcessKey]] = {}
    try:
        entries = list(PROC.iterdir())
    except OSError:
        return set()
    for entry in entries:
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None:
            children.setdefault(stat[0], []).append((int(entry.name), stat[1]))
    found: set[ProcessKey] = set()
    pending = [root]
    while pending:
        for key in children.get(pending.pop(), []):
            if key not in found:
                found.add(key)
                pending.append(key[0])
    return found


def signal_processes(keys: set[ProcessKey], sig: signal.Signals) -> None:
    """Send ``sig`` to each process that is still the one that was found."""
    for pid, started in keys:
        stat = _stat(pid)
        if stat is None or stat[1] != started:
            continue  # gone, or the pid now belongs to another process
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
