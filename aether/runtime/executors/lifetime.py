"""A task process never outlives the process that started it (ARCHITECTURE rule 6).

A task runs in its own process group (see :mod:`aether.runtime.executors.process`), and
when its owner — the worker process — dies without stopping it (SIGKILL, a crash), the
whole group must die too. Two mechanisms, because neither alone covers the group:

- On Linux the direct child asks, before it executes the task, for SIGKILL at its
  parent's death (``prctl(PR_SET_PDEATHSIG)``). Linux sends that signal when the *thread*
  that forked the child ends, not the process; the worker thread that starts a task waits
  in ``run_process`` until the child is reaped, so it outlives the child on every path
  but the owner's own death. The signal reaches the direct child only: what the task
  started in the background (``sleep 60 &``) would survive.
- Everywhere, a *group reaper*: one small process per owner, started with the owner's
  first task, to which the owner registers each task's process group while it runs. The
  reaper polls its parent pid; once it changes (the owner died and the reaper was handed
  to init or a subreaper) it SIGKILLs every group still registered and exits. It polls
  instead of waiting for end-of-file on the registration pipe because a child the owner
  forked without executing a program (a multiprocessing pool worker) inherits the pipe's
  write end and keeps it open after the owner died. It lives in its own session, so a
  Ctrl-C at the terminal or a signal to the owner's process group leaves it to do its job.

A group is registered once its leader has started, so what the leader spawns is covered;
the parent-death signal covers the leader itself, even in the instant between its start
and its registration. Where ``prctl`` does not exist (not Linux) the reaper alone does the
job, a poll interval later.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO

_log = logging.getLogger(__name__)

REAPER_POLL_SECONDS = 0.1  # how soon after the owner's death its task groups are killed
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

# The reaper: argv[1] is the owner's pid. Lines on stdin register ("+PGID") and
# unregister ("-PGID") process groups. It ignores SIGINT and SIGTERM, since only its
# owner's death should end it.
_REAPER_SOURCE = r"""
import os, select, signal, sys

owner = int(sys.argv[1])
interval = float(sys.argv[2])
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
groups = set()
pending = b""

def absorb(timeout):
    # Reads what the owner wrote: "read", "idle" (nothing came in time) or "end".
    global pending
    ready, _, _ = select.select([0], [], [], timeout)
    if not ready:
        return "idle"
    chunk = os.read(0, 65536)
    if not chunk:
        return "end"
    pending += chunk
    *lines, pending = pending.split(b"\n")
    for line in lines:
        if line[:1] == b"+":
            groups.add(int(line[1:]))
        elif line[:1] == b"-":
            groups.discard(int(line[1:]))
    return "read"

while os.getppid() == owner:
    if absorb(interval) == "end":
        break
# The owner may have died before this process read what it registered.
while absorb(0) == "read":
    pass
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
"""


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


# Looked up once, in the parent: the child between fork and exec must do as little as
# possible (no imports, no library loading) since other threads' locks are frozen there.
_prctl = _load_prctl()


def die_with_owner() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive SIGKILL when its owner dies, or None
    where the kernel offers no such request."""
    prctl = _prctl
    if prctl is None:
        return None
    owner = os.getpid()

    def request_parent_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != owner:  # the owner died before the request took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return request_parent_death_signal


class GroupReaper:
    """The owner's side of the reaper: registers and unregisters task process groups,
    starting the reaper on first use, and again if it has died, telling the new one every
    group that is still registered."""

    def __init__(self, poll_seconds: float = REAPER_POLL_SECONDS) -> None:
        self._poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._groups: set[int] = set()
        self._reaper: subprocess.Popen[bytes] | None = None

    def forget_inherited(self) -> None:
        """In a forked child: the groups and the reaper are the parent's, not ours (and the
        lock may have been held by a thread that does not exist here)."""
        self._lock = threading.Lock()
        self._groups = set()
        self._reaper = None

    def register(self, pgid: int) -> None:
        with self._lock:
            self._groups.add(pgid)
            self._send(f"+{pgid}\n")

    def unregister(self, pgid: int) -> None:
        with self._lock:
            self._groups.discard(pgid)
            self._send(f"-{pgid}\n")

    @property
    def pid(self) -> int | None:
        """The reaper's pid, once started."""
        with self._lock:
            return None if self._reaper is None else self._reaper.pid

    def _send(self, line: str) -> None:
        for _ in range(2):  # a reaper that died is replaced once
            stream = self._stream()
            if stream is None:
                return
            try:
                stream.write(line.encode())
                stream.flush()
                return
            except (OSError, ValueError):
                self._reaper = None

    def _stream(self) -> IO[bytes] | None:
        reaper = self._reaper
        if reaper is not None and reaper.poll() is None:
            return reaper.stdin
        try:
            reaper = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _REAPER_SOURCE, str(os.getpid()), str(self._poll_seconds)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            # Tasks still run; only the background jobs of a task whose owner is killed
            # may outlive it (the parent-death signal still covers the task itself).
            _log.warning("cannot start the task group reaper: %s", exc)
            self._reaper = None
            return None
        self._reaper = reaper
        assert reaper.stdin is not None
        with contextlib.suppress(OSError):
            reaper.stdin.write("".join(f"+{group}\n" for group in self._groups).encode())
        return reaper.stdin


OWNER_REAPER = GroupReaper()
os.register_at_fork(after_in_child=OWNER_REAPER.forget_inherited)
