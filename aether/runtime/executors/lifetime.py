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

The task's first process registers its group itself before it executes the task, so
nothing the task starts escapes the reaper. Where ``prctl`` does not exist (not Linux) the
reaper alone does the job, a poll interval later.
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


def task_setup() -> Callable[[], None]:
    """The ``preexec_fn`` of a task's first process: on Linux, ask for SIGKILL at the
    owner's death; everywhere, register the new process group with the owner's reaper.

    The child registers itself, before it executes the task, because only then is the
    group known to the reaper before the task can start anything in the background; a
    registration by the owner once ``Popen`` returns would leave a window (a few
    milliseconds on a busy machine) in which a SIGKILLed owner leaves a background job
    behind. The owner registers the group too, which covers a reaper that had to be
    replaced in between."""
    prctl = _prctl
    registration = OWNER_REAPER.registration_fd()
    owner = os.getpid()

    def set_up_task_process() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != owner:  # the owner died before the request took effect
                os.kill(os.getpid(), signal.SIGKILL)
        if registration is not None:
            # Signals are back to their defaults here: a reaper that died must not take
            # the task down with SIGPIPE. The owner tells the reaper's successor instead.
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)
            with contextlib.suppress(OSError):
                os.write(registration, b"+%d\n" % os.getpid())
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)

    return set_up_task_process


def die_with_owner(owner: int) -> None:
    """The initializer of a pool process that runs tasks (``WorkerPool(process_types=...)``):
    on Linux, SIGKILL at its owner's death, as a task's first process asks; a process
    whose owner is already gone ends at once. Linux ties the signal to the thread that
    started the pool process, so the owner starts its pool processes from a thread that
    lives as long as the pool (see ``WorkerPool.start``). Elsewhere a pool process ends
    when it next waits for work and finds its owner's end of the queue closed."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != owner:
        os._exit(1)


class GroupReaper:
    """The owner's side of the reaper: registers and unregisters task process groups,
    starting the reaper on first use, and again if it has died, telling the new one every
    group that is still registered. Every registration is one ``write`` of one line, far
    below ``PIPE_BUF``, so the lines that the owner and its children write never mix."""

    def __init__(self, poll_seconds: float = REAPER_POLL_SECONDS) -> None:
        self._poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._groups: set[int] = set()
        self._reaper: subprocess.Popen[bytes] | None = None
        # Reapers that are no longer ours (dead, or a forked parent's) are kept, never
        # collected: collecting one would close its pipe, and a task's first process that
        # was handed that pipe may still write its registration to the descriptor, which by
        # then could name another file.
        self._retired: list[subprocess.Popen[bytes]] = []

    def forget_inherited(self) -> None:
        """In a forked child: the groups and the reaper are the parent's, not ours (and the
        lock may have been held by a thread that does not exist here)."""
        self._lock = threading.Lock()
        self._groups = set()
        self._retire()

    def registration_fd(self) -> int | None:
        """The pipe to the reaper (started if need be), for a child to register itself."""
        with self._lock:
            return self._pipe()

    def register(self, pgid: int) -> None:
        with self._lock:
            self._groups.add(pgid)
            self._send(pgid, b"+")

    def unregister(self, pgid: int) -> None:
        with self._lock:
            self._groups.discard(pgid)
            self._send(pgid, b"-")

    @property
    def pid(self) -> int | None:
        """The reaper's pid, once started."""
        with self._lock:
            return None if self._reaper is None else self._reaper.pid

    def _send(self, pgid: int, sign: bytes) -> None:
        for _ in range(2):  # a reaper that died is replaced once
            pipe = self._pipe()
            if pipe is None:
                return
            try:
                os.write(pipe, b"%s%d\n" % (sign, pgid))
                return
            except OSError:
                self._retire()

    def _retire(self) -> None:
        if self._reaper is not None:
            self._retired.append(self._reaper)
        self._reaper = None

    def _pipe(self) -> int | None:
        reaper = self._reaper
        if reaper is not None and reaper.stdin is not None and reaper.poll() is None:
            return reaper.stdin.fileno()
        self._retire()
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
            return None
        assert reaper.stdin is not None
        self._reaper = reaper
        pipe = reaper.stdin.fileno()
        with contextlib.suppress(OSError):
            for group in self._groups:
                os.write(pipe, b"+%d\n" % group)
        return pipe


OWNER_REAPER = GroupReaper()
os.register_at_fork(after_in_child=OWNER_REAPER.forget_inherited)
