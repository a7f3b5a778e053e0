"""What a worker is handed (SPEC §14.1) and what it reports back."""

from __future__ import annotations

from attrs import frozen

from aether.events.values import BoundParameter, ResultParameter
from aether.model.json_value import JSON


@frozen
class TaskAssignment:
    id: str  # attempt id "<runId>:<nodeId>#<attempt>": the idempotency key of dispatch and cancel
    run_id: str
    node_id: str
    attempt: int
    retry_count: int
    workflow_name: str
    namespace: str
    task_name: str
    template_name: str
    executor_type: str
    executor_config: dict[str, JSON] | None = None
    inputs: tuple[BoundParameter, ...] = ()
    artifacts: tuple[dict[str, JSON], ...] = ()
    timeout: str | None = None
    deadline: str | None = None  # RFC 3339 UTC instant of the node's task deadline
    resources: dict[str, JSON] | None = None
    priority: int = 500
    resume_payload: dict[str, JSON] | None = None

    @staticmethod
    def attempt_id(run_id: str, node_id: str, attempt: int) -> str:
        return f"{run_id}:{node_id}#{attempt}"


@frozen
class TaskStartReport:
    assignment_id: str
    run_id: str
    node_id: str
    attempt: int
    worker_id: str


@frozen
class TaskResultReport:
    assignment_id: str
    run_id: str
    node_id: str
    attempt: int
    worker_id: str
    code: int = 0
    message: str = ""
    parameters: tuple[ResultParameter, ...] = ()
    artifacts: tuple[dict[str, JSON], ...] = ()
