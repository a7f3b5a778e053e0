"""The executor plugin contract (SPEC §15 ``ExecutorPlugin``, §14.1).

An executor runs one assignment on a worker and returns an :class:`ExecResult`.
It may raise: the worker runtime turns an exception into code 3 (or code 4 when
the deadline had passed). Executors must honour ``ctx.cancelled()`` and
``ctx.deadline`` where they can; a process they start must be killed, not
abandoned, on cancel or deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from attrs import field, frozen

from aether.events.assignment import TaskAssignment, TaskResultReport
from aether.events.values import ResultParameter
from aether.model.json_value import JSON
from aether.model.problems import Problem
from aether.runtime.executors.task_log_sink import DISCARD, TaskLogSink

CODE_SUCCEEDED = 0
CODE_SUSPENDED = 1
CODE_FAILED = 2
CODE_ERROR = 3
CODE_TIMEOUT = 4


@frozen
class ExecResult:
    code: int = CODE_SUCCEEDED
    message: str = ""
    parameters: tuple[ResultParameter, ...] = ()
    artifacts: tuple[dict[str, JSON], ...] = ()

    @staticmethod
    def outputs(values: Mapping[str, JSON], code: int = CODE_SUCCEEDED, message: str = "") -> ExecResult:
        """A result whose parameters are ``values`` in mapping order."""
        params = tuple(ResultParameter(name, value) for name, value in values.items())
        return ExecResult(code, message, params)

    def report(self, assignment: TaskAssignment, worker_id: str) -> TaskResultReport:
        """What a worker reports to the engine for ``assignment`` once it ran to this result."""
        return TaskResultReport(
            assignment.id,
            assignment.run_id,
            assignment.node_id,
            assignment.attempt,
            worker_id,
            self.code,
            self.message,
            self.parameters,
            self.artifacts,
        )


@frozen
class ExecContext:
    """What the worker runtime offers an executor while it runs."""

    cancelled: Callable[[], bool]
    deadline: datetime | None = None
    now: Callable[[], datetime] = field(factory=lambda: lambda: datetime.now().astimezone())
    artifacts: Any = None  # an ArtifactStore, or None
    log: Callable[[str], None] = field(factory=lambda: lambda _msg: None)
    # Where the task's output goes while it runs (its stdout and stderr, as read).
    task_log: TaskLogSink = DISCARD

    def seconds_left(self) -> float | None:
        """Seconds until the deadline (never negative), or None without a deadline."""
        if self.deadline is None:
            return None
        return max(0.0, (self.deadline - self.now()).total_seconds())


@runtime_checkable
class ExecutorPlugin(Protocol):
    type: str

    def validate_config(self, config: Mapping[str, JSON] | None) -> list[Problem]:
        """Problems with ``executor.config`` (reported as W-EXECUTOR-CONFIG at submit)."""
        ...

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        """Run the assignment. ``request`` has secrets resolved and config interpolated."""
        ...
