"""Effects: what a decision asks the shell to do once its events are durable.

Plain data, performed by the runtime after the append (ARCHITECTURE rule 5). Each is
idempotent by its key, so re-performing one after a crash does no harm.
"""

from __future__ import annotations

from attrs import frozen

from aether.events.assignment import TaskAssignment
from aether.events.phases import Phase
from aether.model.json_value import JSON


@frozen
class Dispatch:
    assignment: TaskAssignment

    @property
    def key(self) -> str:
        return self.assignment.id


@frozen
class CancelTask:
    assignment_id: str

    @property
    def key(self) -> str:
        return self.assignment_id


@frozen
class ArmTimer:
    run_id: str
    timer_id: str
    due_ms: int

    @property
    def key(self) -> str:
        return f"{self.run_id}/{self.timer_id}"


@frozen
class Notify:
    idempotency_key: str
    payload: dict[str, JSON]

    @property
    def key(self) -> str:
        return self.idempotency_key


@frozen
class RunFinished:
    """The run reached a terminal phase (the runtime tells waiters and the run's cron)."""

    run_id: str
    phase: Phase

    @property
    def key(self) -> str:
        return f"{self.run_id}/finished"


@frozen
class StartRun:
    """Cron: submit a run, idempotent by ``cron:<namespace>/<name>@<scheduledTime>``."""

    idempotency_key: str
    run_id: str
    document: dict[str, JSON]
    cron: dict[str, JSON]

    @property
    def key(self) -> str:
        return self.idempotency_key


@frozen
class CancelRun:
    """Cron ``Replace``: cancel a run of this cron."""

    run_id: str

    @property
    def key(self) -> str:
        return f"{self.run_id}/cancel"


Effect = Dispatch | CancelTask | ArmTimer | Notify | RunFinished | StartRun | CancelRun
