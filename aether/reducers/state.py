"""Run state: what folding a run's events produces.

Every record is a frozen attrs class and every collection that grows with the run is
an ``immutables.Map`` (a persistent hash map), so applying one event copies only the
records it touches: the per-event cost does not grow with the size of the run
(ARCHITECTURE rule 7).

Containers keep counters instead of lists to scan: a DAG node counts, per task, the
dependencies that are satisfied, keeps the set of tasks that became ready, and counts
unfinished children and the child outcomes that decide its aggregated phase (§7.6).
"""

from __future__ import annotations

from attrs import field, frozen
from immutables import Map

from aether.events.assignment import TaskAssignment
from aether.events.phases import Phase
from aether.events.timers import TimerPurpose
from aether.events.values import BoundParameter, ResultParameter
from aether.model.json_value import JSON
from aether.model.limits import Limits
from aether.model.types import TemplateType
from aether.reducers.copying import replace
from aether.reducers.plan import RunPlan, TemplateKey

TERMINAL_PHASES: frozenset[Phase] = frozenset({"Succeeded", "Failed", "Error", "Timeout", "Cancelled", "Skipped"})
EMPTY_MAP: Map = Map()


def is_terminal(phase: Phase) -> bool:
    return phase in TERMINAL_PHASES


@frozen
class AttemptState:
    number: int
    reason: str
    retry_count: int
    assignment_id: str
    dispatched_ms: int
    started_ms: int | None = None
    finished_ms: int | None = None
    code: int | None = None
    phase: Phase | None = None
    message: str = ""
    inputs: tuple[BoundParameter, ...] = ()
    worker_id: str = ""
    assignment: TaskAssignment | None = None  # kept so recovery can dispatch it again


@frozen
class DagProgress:
    children: Map = EMPTY_MAP  # task index -> node id
    satisfied: Map = EMPTY_MAP  # task index -> satisfied dependency count
    blocked: Map = EMPTY_MAP  # task index -> True
    ready: Map = EMPTY_MAP  # task index -> True: all dependencies satisfied, no node yet
    unfinished: int = 0
    cancelled: int = 0
    errored: int = 0  # Error or Timeout, not tolerated
    failed: int = 0  # Failed, not tolerated


@frozen
class LoopProgress:
    mode: str = "items"  # items | itemsFrom | repeat
    expanded: bool = False
    items: tuple[JSON, ...] | None = None  # recorded by LoopExpanded; None in repeat mode
    total: int | None = None  # iterations that will exist (None: repeat mode, open-ended)
    iterations: Map = EMPTY_MAP  # index -> node id
    created: int = 0
    unfinished: int = 0
    stopped: bool = False  # repeat mode: no further iteration will be created
    succeeded: int = 0
    failed: int = 0
    errored: int = 0  # Error or Timeout
    cancelled: int = 0
    skipped: int = 0


@frozen
class NodeState:
    node_id: str
    parent_id: str | None
    task_name: str
    template_name: str
    template_type: TemplateType
    depth: int
    seq: int  # creation order
    created_ms: int
    template_key: TemplateKey | None  # None: an inline leaf
    phase: Phase = "Created"
    message: str = ""
    index: int | None = None
    task_index: int | None = None
    started_ms: int | None = None
    finished_ms: int | None = None
    inputs: tuple[BoundParameter, ...] = ()
    artifacts: tuple[dict[str, JSON], ...] = ()
    outputs: tuple[ResultParameter, ...] | None = None
    # leaves
    attempt: int = 0
    retry_count: int = 0
    attempts: tuple[AttemptState, ...] = ()
    accumulated: tuple[ResultParameter, ...] = ()
    last_code: int | None = None
    deadline_ms: int | None = None
    # True once this leaf, or a leaf below this container, was dispatched to a worker in
    # this run (not reused from the run it was forked from).
    fresh: bool = False
    # containers
    dag: DagProgress | None = None
    loop: LoopProgress | None = None

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES

    @property
    def is_leaf(self) -> bool:
        return self.template_type == "task"

    @property
    def current_attempt(self) -> AttemptState | None:
        return self.attempts[-1] if self.attempts else None


@frozen
class TimerState:
    timer_id: str
    due_ms: int
    purpose: TimerPurpose
    node_id: str | None
    armed_seq: int
    fired: bool = False


@frozen
class RunInfo:
    """What a run is, fixed when it is submitted: kept apart from the fields that change
    with every event so that copying the state for an event stays cheap."""

    run_id: str
    name: str
    namespace: str
    # Derived from ``document`` and ``templates_snapshot``; compared through them.
    plan: RunPlan = field(eq=False, repr=False)
    document: dict[str, JSON] = field(factory=dict)
    variables: dict[str, JSON] = field(factory=dict)
    arguments: dict[str, JSON] = field(factory=dict)
    limits: Limits = field(factory=Limits)
    submitted_ms: int = 0
    templates_snapshot: dict[str, JSON] = field(factory=dict)
    warnings: tuple[str, ...] = ()
    cron: dict[str, JSON] | None = None
    origin: dict[str, JSON] | None = None
    idempotency_key: str | None = None


@frozen
class RunState:
    info: RunInfo
    phase: Phase = "Created"
    message: str = ""
    started_ms: int | None = None
    finished_ms: int | None = None
    outputs: tuple[ResultParameter, ...] = ()
    nodes: Map = EMPTY_MAP  # node id -> NodeState
    order: Map = EMPTY_MAP  # creation seq -> node id
    node_count: int = 0
    timers: Map = EMPTY_MAP  # timer id -> TimerState
    timer_seq: int = 0
    open_attempts: Map = EMPTY_MAP  # assignment id -> node id: dispatched, no result yet
    hook_counts: Map = EMPTY_MAP  # (node id or "-", hook type) -> firings
    undelivered_hooks: Map = EMPTY_MAP  # idempotency key -> payload: fired, not yet delivered
    suspended: int = 0  # leaves in Suspended: the run waits for a person
    now_ms: int = 0  # time of the latest input
    event_count: int = 0

    # --- what the run is (RunInfo), read through the state -------------------------------

    @property
    def run_id(self) -> str:
        return self.info.run_id

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def namespace(self) -> str:
        return self.info.namespace

    @property
    def plan(self) -> RunPlan:
        return self.info.plan

    @property
    def document(self) -> dict[str, JSON]:
        return self.info.document

    @property
    def variables(self) -> dict[str, JSON]:
        return self.info.variables

    @property
    def arguments(self) -> dict[str, JSON]:
        return self.info.arguments

    @property
    def limits(self) -> Limits:
        return self.info.limits

    @property
    def submitted_ms(self) -> int:
        return self.info.submitted_ms

    @property
    def templates_snapshot(self) -> dict[str, JSON]:
        return self.info.templates_snapshot

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.info.warnings

    @property
    def cron(self) -> dict[str, JSON] | None:
        return self.info.cron

    @property
    def origin(self) -> dict[str, JSON] | None:
        return self.info.origin

    @property
    def idempotency_key(self) -> str | None:
        return self.info.idempotency_key

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES

    def node(self, node_id: str) -> NodeState:
        node: NodeState = self.nodes[node_id]
        return node

    def get_node(self, node_id: str) -> NodeState | None:
        node: NodeState | None = self.nodes.get(node_id)
        return node

    def nodes_in_order(self) -> list[NodeState]:
        return [self.nodes[self.order[i]] for i in range(self.node_count)]

    def entry_id(self) -> str | None:
        return self.order.get(0)

    def with_node(self, node: NodeState) -> RunState:
        return replace(self, nodes=self.nodes.set(node.node_id, node))
