"""Stopping an engine from the command line: SIGTERM or Ctrl-C asks for a graceful stop,
a second one ends the grace at once, and the drain says what it is waiting for."""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

import typer

from aether.cli.common import fail

if TYPE_CHECKING:
    from aether.events.assignment import TaskAssignment
    from aether.runtime.engine import Engine

DEFAULT_GRACE = "10s"
GRACE_HELP = "On SIGTERM or Ctrl-C, let running tasks finish for this long before terminating them."
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def grace_seconds(text: str) -> float:
    from aether.model.durations import parse_duration_nanos

    nanos = parse_duration_nanos(text)  # unlike a deadline, a grace may be zero
    if nanos is None:
        fail(f'--grace "{text}" is not a duration (e.g. 0s, 10s, 2m)')
    return nanos / 1e9


DEFAULT_LEASE = "10s"
LEASE_HELP = (
    "How long this engine's run leases last without renewal: if it dies, another serve takes its runs"
    " over after this long (at once on the same machine, where the dead process can be seen)."
)


def lease_seconds(text: str) -> float:
    from aether.model.durations import parse_duration_nanos

    seconds = parse_duration_nanos(text)
    if seconds is None or seconds < 1_000_000_000:
        fail(f'--lease "{text}" is not a duration of at least 1s (e.g. 5s, 10s, 1m)')
    return seconds / 1e9


class StopRequests:
    """What the stop signals asked for: ``requested`` at the first, ``hurry`` at the next."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.hurry = threading.Event()
        self.signal_name = ""

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Only flags: writing to stderr here could re-enter a write the main thread is in.
        if self.requested.is_set():
            self.hurry.set()
        else:
            self.signal_name = signal.Signals(signum).name
            self.requested.set()

    @contextmanager
    def installed(self) -> Iterator[StopRequests]:
        """Handle SIGTERM and SIGINT while the block runs (only the main thread can)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {signum: signal.signal(signum, self._on_signal) for signum in _STOP_SIGNALS}
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def describe_running(running: Sequence[TaskAssignment], seconds_left: float) -> str:
    tasks = ", ".join(f"{a.run_id} {a.node_id}#{a.attempt}" for a in running)
    count = f"{len(running)} running task{'' if len(running) == 1 else 's'}"
    return f"waiting for {count}: {tasks} (grace {math.ceil(seconds_left)}s left)"


def drain(engine: Engine, grace: float, requests: StopRequests) -> None:
    """Stop the engine's workers gracefully (:meth:`Engine.drain`), saying on stderr what
    it waits for and what it had to terminate."""

    if requests.requested.is_set():
        typer.echo(f"aether: {requests.signal_name}: stopping (again to stop at once)", err=True)

    def waiting(running: Sequence[TaskAssignment], seconds_left: float) -> None:
        typer.echo(f"aether: {describe_running(running, seconds_left)}", err=True)

    if not engine.drain(grace, waiting=waiting, hurry=requests.hurry):
        typer.echo(
            "aether: terminated the tasks still running; their attempts are recorded as lost, "
            "and their next attempts start as soon as an engine takes the runs over",
            err=True,
        )
