"""Running one child process for an executor (SPEC §14.3): environment, capped capture, stopping.

Every process-based executor (shell, script, python) goes through :func:`run_process`, so
the rules live in one place: the child starts in its own session (so the whole process
group can be signalled) and dies with the worker process, group and all (see
:mod:`aether.runtime.executors.lifetime`), each output stream is captured up to a cap while the rest is
drained and dropped (a chatty child must never block on a full pipe), and on cancel or
deadline the group gets SIGTERM, then SIGKILL once the grace period is over.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, Any, Literal

from attrs import frozen

from aether.events.assignment import TaskAssignment
from aether.events.values import BoundParameter
from aether.runtime.executors.base import ExecContext
from aether.runtime.executors.descendants import ProcessKey, descendants, signal_processes
from aether.runtime.executors.lifetime import OWNER_REAPER, task_setup

MAX_STREAM_BYTES = 1 << 20  # 1 MiB per captured stream (SPEC §14.3)
STDERR_TAIL_BYTES = 1 << 10  # the part of stderr that goes into a failure message
# The end of each stream kept besides its head, so that a stream longer than a recordable
# value keeps its last lines too (SPEC §14.3): half of L-VALUE is all a value keeps of it.
STREAM_TAIL_BYTES = 128 * 1024
DEFAULT_GRACE_SECONDS = 10.0  # SIGTERM → SIGKILL (SPEC §14.3)
POLL_SECONDS = 0.05  # how often cancel and deadline are checked while a child runs
READER_JOIN_SECONDS = 5.0  # how long to wait for pipes to close once the group is gone

_log = logging.getLogger(__name__)

SECRET_ENV_PREFIX = "AETHER_SECRET_"
_NOT_ENV_CHAR = re.compile(r"[^A-Z0-9]")

Stopped = Literal["exited", "cancelled", "deadline"]


def input_env_name(name: str) -> str:
    """``batch-size`` → ``AETHER_INPUT_BATCH_SIZE``."""
    return "AETHER_INPUT_" + _NOT_ENV_CHAR.sub("_", name.upper())


def render_env_value(value: Any) -> str:
    """A string as is, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def input_env(inputs: Iterable[BoundParameter]) -> dict[str, str]:
    """``AETHER_INPUT_<NAME>`` for every input that has a value, in input order."""
    return {input_env_name(p.name): render_env_value(p.value) for p in inputs if p.has_value}


def identity_env(request: TaskAssignment) -> dict[str, str]:
    """Which run, task and attempt a process is executing, so a command can tell a retry
    or a re-dispatch after a crash from its first execution."""
    return {
        "AETHER_RUN_ID": request.run_id,
        "AETHER_WORKFLOW_NAME": request.workflow_name,
        "AETHER_NODE_ID": request.node_id,
        "AETHER_TASK_NAME": request.task_name,
        "AETHER_ATTEMPT": str(request.attempt),
        "AETHER_RETRY_COUNT": str(request.retry_count),
    }


def inherited_env() -> dict[str, str]:
    """The worker's environment minus the variables :class:`EnvSecretProvider` reads:
    a task must get a secret only through a ``secretKeyRef`` input, never by inheritance."""
    return {k: v for k, v in os.environ.items() if not k.startswith(SECRET_ENV_PREFIX)}


class _Capture:
    """Drains one pipe on its own thread: keeps the first ``cap`` bytes and the last
    ``tail_size`` bytes, counts the rest, and hands every chunk to ``on_read`` as it is read
    (whatever the pipe holds at that instant: lines, or part of one)."""

    def __init__(
        self, stream: IO[bytes], cap: int, tail_size: int = 0, on_read: Callable[[bytes], None] | None = None
    ) -> None:
        self._stream = stream
        self._cap = cap
        self._tail_size = tail_size
        self._on_read = on_read  # streams the output to the task log as it comes
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.thread = threading.Thread(target=self._run, name="aether-capture", daemon=True)

    def _run(self) -> None:
        read = getattr(self._stream, "read1", self._stream.read)
        try:
            while True:
                chunk = read(65536)
                if not chunk:
                    return
                self.total += len(chunk)
                if self._on_read is not None:
                    self._stream_out(chunk)
                room = self._cap - len(self.head)
                if room > 0:
                    self.head += chunk[:room]
                if self._tail_size:
                    self.tail += chunk
                    del self.tail[: max(0, len(self.tail) - self._tail_size)]
        except (OSError, ValueError):
            return  # the pipe was closed under us; what we have is the output
        finally:
            with contextlib.suppress(OSError):
                self._stream.close()

    def _stream_out(self, chunk: bytes) -> None:
        assert self._on_read is not None
        try:
            self._on_read(chunk)
        except Exception:
            # The pipe must go on being drained, or the child blocks on a full pipe: the
            # task's log goes without the rest of this stream instead.
            _log.exception("streaming a task's output failed; the rest of the stream is not logged")
            self._on_read = None

    @property
    def truncated(self) -> bool:
        return self.total > len(self.head)


class StartFailed(Exception):
    """The child process could not be started (missing program, bad working directory)."""


@frozen
class ProcessOutcome:
    pid: int
    returncode: int | None  # negative: killed by that signal; None: never reaped
    stdout: bytes
    stderr: bytes
    stderr_tail: bytes  # the last STREAM_TAIL_BYTES of the whole stream, truncated or not
    stdout_truncated: bool
    stderr_truncated: bool
    stopped: Stopped
    stdout_tail: bytes = b""  # the last STREAM_TAIL_BYTES of the whole stream
    stdout_total: int = 0  # bytes the stream carried, captured or not
    stderr_total: int = 0


def run_process(
    argv: Sequence[str],
    *,
    ctx: ExecContext,
    env: Mapping[str, str],
    cwd: str | None = None,
    stdin_data: bytes | None = None,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    cap: int = MAX_STREAM_BYTES,
) -> ProcessOutcome:
    """Run ``argv`` to completion, cancellation or deadline. Raises :class:`StartFailed`
    when the process cannot be started (the caller maps that to code 3)."""
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
            preexec_fn=task_setup(),
        )
    except OSError as exc:
        raise StartFailed(f"cannot start {argv[0]!r}: {exc}") from exc
    OWNER_REAPER.register(proc.pid)
    try:
        return _supervise(proc, ctx, stdin_data, grace_seconds, cap)
    finally:
        # Every path of _supervise ends with SIGKILL to the group, so nothing of it is left
        # that the reaper would have to kill.
        OWNER_REAPER.unregister(proc.pid)


def _supervise(
    proc: subprocess.Popen[bytes], ctx: ExecContext, stdin_data: bytes | None, grace_seconds: float, cap: int
) -> ProcessOutcome:
    assert proc.stdout is not None and proc.stderr is not None
    sink = ctx.task_log
    out = _Capture(proc.stdout, cap, STREAM_TAIL_BYTES, lambda data: sink.write("stdout", data))
    err = _Capture(proc.stderr, cap, STREAM_TAIL_BYTES, lambda data: sink.write("stderr", data))
    out.thread.start()
    err.thread.start()
    if stdin_data is not None:
        assert proc.stdin is not None
        threading.Thread(target=_feed, args=(proc.stdin, stdin_data), name="aether-stdin", daemon=True).start()

    try:
        stopped = _wait(proc, ctx)
    except BaseException:
        # ctx itself failed (a broken cancel flag or clock): the child must not be abandoned.
        escaped = descendants(proc.pid)
        _signal_group(proc.pid, signal.SIGKILL)
        signal_processes(escaped, signal.SIGKILL)
        proc.wait()
        raise
    if stopped == "exited":
        # The task is over; a background job it left in its group would hold our pipes
        # open (and outlive the task), so the group goes with its leader.
        _signal_group(proc.pid, signal.SIGKILL)
    else:
        _terminate(proc, (out, err), grace_seconds)
    give_up = time.monotonic() + READER_JOIN_SECONDS
    for capture in (out, err):
        capture.thread.join(max(0.0, give_up - time.monotonic()))
    return ProcessOutcome(
        pid=proc.pid,
        returncode=proc.returncode,
        stdout=bytes(out.head),
        stderr=bytes(err.head),
        stderr_tail=bytes(err.tail),
        stdout_truncated=out.truncated,
        stderr_truncated=err.truncated,
        stopped=stopped,
        stdout_tail=bytes(out.tail),
        stdout_total=out.total,
        stderr_total=err.total,
    )


def _feed(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
    except (BrokenPipeError, OSError, ValueError):
        pass  # the child stopped reading; its exit status tells the story
    finally:
        with contextlib.suppress(OSError):
            stream.close()


def _wait(proc: subprocess.Popen[bytes], ctx: ExecContext) -> Stopped:
    while True:
        try:
            proc.wait(timeout=POLL_SECONDS)
            return "exited"
        except subprocess.TimeoutExpired:
            pass
        if ctx.cancelled():
            return "cancelled"
        left = ctx.seconds_left()
        if left is not None and left <= 0:
            return "deadline"


def _terminate(proc: subprocess.Popen[bytes], captures: Sequence[_Capture], grace_seconds: float) -> None:
    """SIGTERM to the group and to every descendant that left it; SIGKILL when the grace
    period is over. Open pipes stand in
    for "some member is still alive", because a group member that a non-reaping init
    inherited would still answer ``killpg(pgid, 0)`` as a zombie."""
    # Collected while the task's first process lives: once it exits, what left its group
    # is handed to init and can no longer be told from any other process.
    escaped: set[ProcessKey] = descendants(proc.pid)
    _signal_group(proc.pid, signal.SIGTERM)
    signal_processes(escaped, signal.SIGTERM)
    give_up = time.monotonic() + grace_seconds
    while time.monotonic() < give_up:
        if proc.poll() is not None and not any(c.thread.is_alive() for c in captures):
            break
        if proc.poll() is None:
            escaped |= descendants(proc.pid)  # started during the grace period
        time.sleep(POLL_SECONDS)
    if proc.poll() is None:
        escaped |= descendants(proc.pid)
    _signal_group(proc.pid, signal.SIGKILL)
    signal_processes(escaped, signal.SIGKILL)
    # A process in uninterruptible sleep survives even SIGKILL for a while; nothing more
    # a worker can do about it than to stop waiting.
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=READER_JOIN_SECONDS)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is already gone
        os.killpg(pgid, sig)


def decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def tail_text(data: bytes, limit: int) -> str:
    """The last ``limit`` bytes as text, without a character cut in half at the start."""
    return data[-limit:].decode("utf-8", errors="ignore") if len(data) > limit else decode(data)
