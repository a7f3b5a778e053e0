"""A state machine that drives the real ``Engine`` (ARCHITECTURE "Tests that hold it
together": random worker outcomes, no completion lost or counted twice).

Wiring as in the conformance runner (SPEC §16.1): in-memory log, ``FakeClock``, sequential
run ids, and a worker played by the machine; here one or two engine processes share the
log (``engine_cluster``), each with its own in-process broker, member id and short lease.
Leaves run ``echo`` or the executor ``test``, whose outcome the machine chooses. The
worker claims each assignment before it starts it (ARCHITECTURE rule 6), for the engine
it fetched from or for a worker process of its own. Rules: submit a generated document to
either engine; run the next assignment with an outcome; start one without finishing it
("slow") and finish it later; deliver a duplicate of an earlier result; deliver a late
start or result for a stale attempt; advance the clock to the next armed timer; resume a
suspended node (and, refused, a node that is not suspended or does not exist) and cancel
a run, through either engine, also while the owner has a report still to process; a
second engine joins; an engine dies and a new one starts (recovery re-issues open work and
timers); an engine's lease lapses and the survivor takes its runs over and fences it; the
worker process dies with claims; work whose claimant died reports late.

Checked after every step, reading each run's log: every phase change follows an edge of
SPEC §6.4; no node completes twice; no attempt gets two results; nothing is created or
dispatched after the run ended; attempts are numbered 1, 2, 3, ... with the right reason,
retry count, timeout and deadline (§6.3, §9.2, §10.2, §11.2, §14.1); every
``AttemptLost`` is answered at once by a ``lost`` dispatch of attempt n+1 that uses no
retry; a DAG task gets a node only when it is reachable and each dependency is terminal
and satisfies it (§7.3.2); loop iterations respect index order, ``concurrency``, serial
repeat and ``maxIterations`` (§8); a retry happens only within the call site's policy
(§9.1); workflow hooks fire at most once per type; every engine's copy of a run equals
the fold of its log; ignored reports change nothing; no two live engines own a run, each
owns what its leases say, and every unfinished run has a live owner; an engine's broker
hands out only its own runs' attempts, an attempt dispatched again is the same attempt,
and an assignment is claimed once. When an engine or the worker process dies, exactly
the attempts its claims held are recorded lost (``claim-expired``), every other open
attempt is dispatched again as itself, and a dead engine can neither renew nor append.

At teardown the machine drains everything (finishes slow work, resumes suspended nodes,
runs what is pending with success, advances the clock) and checks: every node is
terminal, nothing ever hung, the run phase is the entry node's phase mapped (§7.7), each
container's phase is the aggregation of its children (§7.6), DAGs and loops created every
child they had to, workflow and task hooks fired exactly as §11.5 says, and a fresh fold
of the log and a fresh engine over the same log (recovery) show the same run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from support.deaths import declare_dead

from aether.events import catalog as ev
from aether.events.assignment import TaskAssignment, TaskResultReport, TaskStartReport
from aether.events.codec import decode
from aether.events.compaction import expand, expand_all
from aether.events.times import ms_to_datetime
from aether.projections.views import run_view
from aether.reducers.run import apply, fold
from aether.reducers.state import RunState
from aether.runtime.broker import LocalBroker
from aether.runtime.clock import FakeClock
from aether.runtime.engine import Engine, RequestRejected, run_stream
from aether.runtime.executors.base import ExecContext, ExecResult, ExecutorPlugin
from aether.runtime.executors.echo import EchoExecutor
from aether.runtime.ids import SequentialIds
from aether.runtime.notifiers import RecordingNotifier
from aether.runtime.worker import run_assignment
from aether.store.coordination import Claim, Fenced
from aether.store.memory import InMemoryEventLog
from tests.properties.engine_cluster import LEASE_TTL, Cluster, Serve, Work
from tests.properties.generators import (
    INITIAL_PHASES,
    RUN_PHASE_OF_ENTRY,
    SPEC_RUN_EDGES,
    TERMINAL,
    aggregate,
    satisfies,
    spec_allows,
    tolerance,
    workflows,
)

pytestmark = pytest.mark.spec(
    "2.9",
    "2.10",
    "6.3",
    "6.4",
    "7.3.2",
    "7.5",
    "7.6",
    "7.7",
    "7.8",
    "8.1",
    "8.2",
    "8.4",
    "9.1",
    "9.2",
    "9.3",
    "10.1",
    "10.2",
    "10.3",
    "11.2",
    "11.3",
    "11.4",
    "11.5",
    "14.1",
)

JSON = Any
T0 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
MAX_RUNS = 3
MAX_ENGINES = 2

OUTCOMES: dict[str, ExecResult] = {
    "success": ExecResult(0),
    "outputs": ExecResult.outputs({"status": "ok", "n": 1}),
    "failure": ExecResult(2, "business failure"),
    "error": ExecResult(3, "system failure"),
    "suspend": ExecResult(1, "waiting"),
    "timeout": ExecResult(4, "worker timed out"),
}
OUTCOME_NAMES = tuple(OUTCOMES)
# SPEC §7.6 and §7.7: the messages of aggregated containers and of a finished run.
AGGREGATE_MESSAGE = {
    "Cancelled": "one or more tasks were cancelled",
    "Error": "one or more tasks errored",
    "Failed": "one or more tasks failed",
    "Succeeded": "",
}
RUN_MESSAGE = {"Succeeded": "", "Failed": "one or more tasks failed", "Error": "one or more tasks errored"}
# The durations the generators use (SPEC §2.9), in milliseconds.
DURATION_MS = {
    "500ms": 500,
    "1s": 1000,
    "2s": 2000,
    "3s": 3000,
    "5s": 5000,
    "10s": 10_000,
    "20s": 20_000,
    "1m": 60_000,
    "1h": 3_600_000,
}
PHASE_HOOK = {
    "Succeeded": "onSuccess",
    "Failed": "onFailure",
    "Error": "onError",
    "Timeout": "onError",
    "Cancelled": "onCancel",
}


class ChosenOutcomeExecutor:
    """Executor type ``test``: returns whatever the machine set as the next outcome."""

    type = "test"

    def __init__(self) -> None:
        self.outcome = OUTCOMES["success"]

    def validate_config(self, config: Mapping[str, JSON] | None) -> list[Any]:
        return []

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        return self.outcome


# --- reading a run's log -------------------------------------------------------------------


class RunChecker:
    """Follows one run's log incrementally and checks each new event against SPEC."""

    def __init__(self, run_id: str, document: dict[str, JSON]) -> None:
        self.run_id = run_id
        self.document = document
        self.version = 0
        self.state: RunState | None = None  # my own fold of the log
        self.templates: dict[str, tuple[str, dict[str, JSON]]] = {}
        for template in document["spec"]["templates"]:
            ((kind, body),) = template.items()
            self.templates.setdefault(body["name"], (kind, body))
        self.phase: dict[str, str] = {}
        self.kind: dict[str, str] = {}
        self.template_of: dict[str, str] = {}
        self.site_of: dict[str, tuple[str, int]] = {}  # DAG task node -> (parent, task index)
        self.run_phase: str | None = None
        self.completed: set[str] = set()
        self.results: set[tuple[str, int]] = set()
        self.attempts: dict[str, int] = {}
        self.retries: Counter[str] = Counter()
        self.deadline: dict[str, str | None] = {}  # node -> deadline of its latest fresh dispatch
        self.last_result: dict[str, str] = {}
        self.inputs: dict[str, tuple[Any, ...]] = {}  # node -> inputs of its latest attempt
        self.armed: dict[str, int] = {}  # timer id -> due
        self.expected_timers: dict[
            str, int
        ] = {}  # timers SPEC §10 says must be armed next  # node -> phase of its latest recorded result
        self.iterations: dict[str, list[str]] = {}  # loop node -> iteration node ids
        self.workflow_hooks: Counter[str] = Counter()
        self.events: list[ev.Event] = []
        self.retry_count_of: dict[str, int] = {}  # node -> retry count of its latest attempt
        self.lost: tuple[str, int] | None = None  # (node, attempt) of an AttemptLost being decided

    def follow(self, log: InMemoryEventLog) -> None:
        for stored in log.read(run_stream(self.run_id), self.version + 1):
            assert stored.version == self.version + 1, "versions are contiguous"
            self.version = stored.version
            event = decode(stored)
            self.events.append(event)
            self.state = apply(self.state, event)
            # The rules are stated per fine-grained event; a compact record (SPEC §6.6.1)
            # is checked as the events it stands for.
            for fine in expand(event):
                self.check(fine)
        assert self.lost is None, f"AttemptLost {self.lost} was neither answered nor ignored"

    # --- per event ------------------------------------------------------------------------

    def move(self, node_id: str, to_phase: str, event: ev.Event) -> None:
        before = self.phase[node_id]
        kind = self.kind[node_id]
        if not (before == to_phase == "Ready" and kind == "task"):
            assert spec_allows(kind, before, to_phase), (
                f"{event.TYPE}: {node_id} ({kind}) {before} -> {to_phase} is not a SPEC §6.4 edge"
            )
        self.phase[node_id] = to_phase

    def check_lost(self, event: ev.Event) -> None:
        """SPEC §6.3: an ``AttemptLost`` of the current open attempt is answered at once by
        cancelling it and dispatching attempt n+1 with reason ``lost`` (and nothing else in
        between: no retry is used); a loss of anything else is ignored. A ``lost`` dispatch
        answers a loss and nothing else."""
        if event.KIND == ev.INPUT:
            assert self.lost is None, f"AttemptLost {self.lost} was neither answered nor ignored"
            if isinstance(event, ev.AttemptLost):
                self.lost = (event.node_id, event.attempt)
            return
        if isinstance(event, ev.TaskDispatched) and event.reason == "lost":
            assert self.lost == (event.node_id, event.attempt - 1), (
                f"{event.node_id} #{event.attempt} after {self.lost}"
            )
            self.lost = None
        elif self.lost is not None:
            if isinstance(event, ev.InputIgnored):
                assert event.input_type == "AttemptLost"
                self.lost = None
            else:
                assert isinstance(event, ev.TaskCancelRequested), f"{event.TYPE} answers AttemptLost {self.lost}"
                assert (event.node_id, event.attempt) == self.lost

    def check(self, event: ev.Event) -> None:
        self.check_lost(event)
        ended = self.run_phase in TERMINAL
        if isinstance(event, ev.WorkflowSubmitted):
            assert self.run_phase is None
            self.run_phase = "Created"
            timeout = self.document["spec"].get("timeout", "1h")  # §10.1, default §2.10
            assert self.state is not None
            self.expected_timers["workflow"] = self.state.submitted_ms + DURATION_MS[timeout]
        elif isinstance(event, ev.NodeCreated):
            assert not ended, f"{event.node_id} created after the run ended"
            assert event.node_id not in self.phase, f"{event.node_id} created twice"
            assert event.phase in INITIAL_PHASES
            self.phase[event.node_id] = event.phase
            self.kind[event.node_id] = event.template_type
            self.template_of[event.node_id] = event.template_name
            if event.parent_id is not None and event.task_index is not None:
                self.site_of[event.node_id] = (event.parent_id, event.task_index)
                self.check_ready(event)
            elif event.parent_id is not None:
                self.check_iteration(event)
            if event.template_type != "task" and event.phase == "Created":
                timeout = self.timeout_of(event.node_id)  # §10.3: armed at creation
                if timeout is not None:
                    assert self.state is not None
                    self.expected_timers[f"container:{event.node_id}"] = self.state.now_ms + DURATION_MS[timeout]
        elif isinstance(event, ev.PhaseChanged):
            if event.node_id is None:
                assert event.from_phase == self.run_phase
                assert (self.run_phase, event.to_phase) in SPEC_RUN_EDGES, f"run {self.run_phase} -> {event.to_phase}"
                self.run_phase = event.to_phase
            else:
                assert event.from_phase == self.phase[event.node_id]
                self.move(event.node_id, event.to_phase, event)
        elif isinstance(event, ev.TaskDispatched):
            assert not ended, f"{event.node_id} dispatched after the run ended"
            assert event.attempt == self.attempts.get(event.node_id, 0) + 1, "attempts are numbered 1, 2, 3, ..."
            self.attempts[event.node_id] = event.attempt
            self.check_dispatch(event)
            self.move(event.node_id, "Ready", event)
        elif isinstance(event, ev.TaskResultRecorded):
            key = (event.node_id, event.attempt)
            assert key not in self.results, f"attempt {key} got two results"
            self.results.add(key)
            assert self.phase[event.node_id] not in TERMINAL, f"result recorded on terminal {event.node_id}"
            self.last_result[event.node_id] = event.phase
            if event.phase == "Suspended":
                self.move(event.node_id, "Suspended", event)
        elif isinstance(event, ev.RetryScheduled):
            assert self.phase[event.node_id] not in TERMINAL
            self.check_retry(event)
            self.retries[event.node_id] += 1
            if event.delay_ms > 0:
                self.move(event.node_id, "Created", event)
                assert self.state is not None
                self.expected_timers[f"retry:{event.node_id}:{event.retry_count}"] = self.state.now_ms + event.delay_ms
        elif isinstance(event, ev.NodeCompleted):
            assert event.node_id not in self.completed, f"{event.node_id} completed twice"
            assert event.phase in TERMINAL, f"{event.node_id} completed to {event.phase}"
            self.completed.add(event.node_id)
            assert event.from_phase == self.phase[event.node_id]
            self.move(event.node_id, event.phase, event)
        elif isinstance(event, ev.WorkflowCompleted):
            assert not ended, "the run completed twice"
            assert event.from_phase == self.run_phase
            assert (self.run_phase, event.phase) in SPEC_RUN_EDGES
            assert not event.message.startswith("engine internal error"), event.message
            self.run_phase = event.phase
        elif isinstance(event, ev.TimerArmed):
            assert event.timer_id not in self.armed, f"timer {event.timer_id} armed twice"
            self.armed[event.timer_id] = event.due_ms
            assert self.expected_timers.pop(event.timer_id, None) == event.due_ms, (
                f"timer {event.timer_id} due {event.due_ms} was not expected"
            )
        elif isinstance(event, ev.HookFired) and event.scope == "workflow":
            self.workflow_hooks[event.hook_type] += 1
            assert self.workflow_hooks[event.hook_type] == 1, f"workflow {event.hook_type} fired twice"

    def check_iteration(self, event: ev.NodeCreated) -> None:
        """SPEC §8.2 (serial repeat), §8.4 (at most ``concurrency`` unfinished iterations),
        §8.1 (``maxIterations``); iterations are created in index order."""
        assert event.parent_id is not None and event.index is not None
        kind, loop = self.templates[self.template_of[event.parent_id]]
        assert kind == "loop" and self.kind[event.parent_id] == "loop"
        siblings = self.iterations.setdefault(event.parent_id, [])
        assert event.index == len(siblings), f"{event.node_id}: iterations are created in index order"
        unfinished = [n for n in siblings if self.phase[n] not in TERMINAL]
        if "repeatCondition" in loop:
            assert not unfinished, f"{event.node_id} created while {unfinished} run (repeat is serial)"
            assert event.index < loop["maxIterations"], f"{event.node_id} passes maxIterations"
        elif loop.get("concurrency", 0) > 0:
            assert len(unfinished) < loop["concurrency"], f"{event.node_id} passes concurrency {unfinished}"
        if loop.get("maxIterations", 0) > 0:
            assert event.index < loop["maxIterations"]
        siblings.append(event.node_id)

    def check_dispatch(self, event: ev.TaskDispatched) -> None:
        """SPEC §6.3, §9.2, §10.2, §11.2, §14.1: the attempt's reason, retry count, timeout
        and deadline."""
        node_id, assignment = event.node_id, event.assignment
        assert assignment.node_id == node_id and assignment.attempt == event.attempt
        assert assignment.run_id == self.run_id
        assert assignment.retry_count == self.retries[node_id], "retryCount counts the retries so far"
        if event.attempt == 1:
            assert event.reason == "initial"
        elif event.reason == "resume":  # §11.2: payload merged into the current inputs
            assert self.phase[node_id] == "Suspended"
            payload = assignment.resume_payload
            assert payload is not None
            assert assignment.deadline == self.deadline[node_id], "a resume does not reset the deadline"
            previous = [p.name for p in self.inputs[node_id]]
            names = [p.name for p in assignment.inputs]
            assert names == previous + [k for k in payload if k not in previous], "§11.2 merge order"
            values = {p.name: p.value for p in self.inputs[node_id]}
            for param in assignment.inputs:
                assert param.value == payload.get(param.name, values.get(param.name)), (node_id, param)
        elif event.reason == "lost":  # §6.3: same inputs, retry count and deadline
            assert assignment.inputs == self.inputs[node_id]
            assert assignment.deadline == self.deadline[node_id], "a lost attempt keeps the deadline"
            assert assignment.retry_count == self.retry_count_of[node_id], "a lost attempt uses no retry"
        else:
            assert event.reason == "retry", event.reason
        self.inputs[node_id] = assignment.inputs
        self.retry_count_of[node_id] = assignment.retry_count
        timeout = self.timeout_of(node_id)
        assert assignment.timeout == timeout, (node_id, assignment.timeout)
        if event.reason not in ("resume", "lost"):
            self.deadline[node_id] = assignment.deadline
            assert self.state is not None
            if timeout is None:
                assert event.deadline_ms is None
            else:  # §10.2: a fresh task deadline, armed as task:<nodeId>:<retryCount>
                assert event.deadline_ms == self.state.now_ms + DURATION_MS[timeout]
                self.expected_timers[f"task:{node_id}:{assignment.retry_count}"] = event.deadline_ms

    def timeout_of(self, node_id: str) -> str | None:
        """The call site's timeout if set, else the definition's (SPEC §10.2, §10.3, §14.1)."""
        site = self.call_site(node_id)
        if site is not None and site.get("timeout"):
            return str(site["timeout"])
        if site is not None and "template" not in site:
            return None  # an inline leaf is its own definition; its timeout is the call site's
        _kind, body = self.templates[self.template_of[node_id]]
        timeout: str | None = body.get("timeout")
        return timeout

    def check_retry(self, event: ev.RetryScheduled) -> None:
        """SPEC §9.1: only a DAG-task leaf retries, within its call site's limit; without an
        expression only Error and Timeout are retried (a deadline on a suspended node
        leaves its last recorded result Suspended)."""
        site = self.call_site(event.node_id)
        assert site is not None and "retry" in site, f"{event.node_id} retried without a retry policy"
        retry = site["retry"]
        assert 1 <= event.retry_count <= retry.get("limit", 0), (event.node_id, event.retry_count, retry)
        backoff = retry.get("backoff")
        delay = (
            0
            if backoff is None
            else DURATION_MS[backoff["duration"]] * backoff.get("factor", 1) ** (event.retry_count - 1)
        )
        assert event.delay_ms == delay, f"§9.3: retry {event.retry_count} of {event.node_id} waits {event.delay_ms}"
        if "expression" not in retry:
            phase = self.last_result.get(event.node_id)
            assert phase in ("Error", "Timeout", "Suspended"), f"{event.node_id} retried after {phase}"

    def call_site(self, node_id: str) -> dict[str, JSON] | None:
        """The DAG task a node was created for (None: the entry node, iterations)."""
        if node_id not in self.site_of:
            return None
        parent, index = self.site_of[node_id]
        dag = self.dag_of(parent)
        assert dag is not None
        task: dict[str, JSON] = dag["tasks"][index]
        return task

    def dag_of(self, node_id: str) -> dict[str, JSON] | None:
        kind, body = self.templates.get(self.template_of[node_id], ("task", {}))
        return body if kind == "dag" and self.kind[node_id] == "dag" else None

    def task_tolerance(self, dag: dict[str, JSON], task: dict[str, JSON]) -> frozenset[str]:
        """The effective continueOn of a DAG task (§7.3.2): its own, else the DAG's."""
        return tolerance(task["continueOn"] if "continueOn" in task else dag.get("continueOn"))

    def check_ready(self, event: ev.NodeCreated) -> None:
        """SPEC §7.3.1/§7.3.2: a DAG task gets a node only when it is reachable and every
        dependency has a terminal node that satisfies it."""
        assert event.parent_id is not None and event.task_index is not None
        dag = self.dag_of(event.parent_id)
        assert dag is not None, f"{event.node_id}: task index under a non-DAG parent"
        task = dag["tasks"][event.task_index]
        assert event.node_id == f"{event.parent_id}/{task['name']}"
        assert task["name"] in reachable_tasks(dag), f"{event.node_id} is not reachable"
        by_name = {t["name"]: t for t in dag["tasks"]}
        for dep in task.get("dependencies", ()):
            dep_id = f"{event.parent_id}/{dep}"
            phase = self.phase.get(dep_id)
            assert phase is not None, f"{event.node_id} created before its dependency {dep} exists"
            assert phase in TERMINAL, f"{event.node_id} created while {dep} is {phase}"
            assert satisfies(phase, self.task_tolerance(dag, by_name[dep])), (
                f"{event.node_id} created although {dep} ended {phase} without continueOn for it"
            )
        self.check_when(event, task.get("when"))

    def check_when(self, event: ev.NodeCreated, when: str | None) -> None:
        """SPEC §7.3.3 with §5: the node is ``Created`` when ``when`` is absent or true,
        ``Skipped`` (with the message SPEC gives) when it is false or fails."""
        if not when:
            assert event.phase == "Created"
            return
        outcome = expected_when(when, self.document, event.parent_id or "", self.phase)
        if outcome is None:
            assert event.phase in INITIAL_PHASES
        elif outcome == "error":
            assert event.phase == "Skipped" and event.message.startswith(f'when condition "{when}" failed: '), event
        elif outcome:
            assert event.phase == "Created", (event.node_id, when, event.phase, event.message)
        else:
            assert event.phase == "Skipped", (event.node_id, when, event.phase)
            assert event.message == f'when condition "{when}" evaluated to false', event.message


def expected_when(when: str, document: dict[str, JSON], parent: str, phases: Mapping[str, str]) -> bool | str | None:
    """What a generated ``when`` evaluates to (SPEC §5): True, False, "error", or None
    when the oracle does not know (it reads outputs)."""
    literal = {"true": True, "false": False, "len(1) > 0": "error"}
    if when in literal:
        return literal[when]
    if "workflow.parameters.flag" in when:
        flag = document["spec"]["arguments"]["parameters"][0]["value"]
        return bool(flag) if when == "workflow.parameters.flag == true" else not flag
    if ".outputs." in when:
        return None
    dep = when.split("tasks.", 1)[1].split(".phase", 1)[0]
    phase = phases[f"{parent}/{dep}"]
    if "!= 'Failed'" in when:
        return phase != "Failed"
    return phase == "Succeeded"  # tasks.x.phase == 'Succeeded' and {{tasks.x.phase}} == Succeeded


def reachable_tasks(dag: dict[str, JSON]) -> set[str]:
    """SPEC §7.3.1: every task, or those reachable forward from ``entrypoints``."""
    names = [t["name"] for t in dag["tasks"]]
    if "entrypoints" not in dag:
        return set(names)
    dependents: dict[str, list[str]] = {n: [] for n in names}
    for task in dag["tasks"]:
        for dep in task.get("dependencies", ()):
            dependents[dep].append(task["name"])
    seen: set[str] = set()
    stack = list(dag["entrypoints"])
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(dependents[name])
    return seen


# --- the machine ---------------------------------------------------------------------------


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(T0)
        self.log = InMemoryEventLog()
        self.test_executor = ChosenOutcomeExecutor()
        self.executors: dict[str, ExecutorPlugin] = {"echo": EchoExecutor(), "test": self.test_executor}
        self.hooks = RecordingNotifier()
        self.ids = SequentialIds()  # one sequence across engines: run ids are never reused
        self.cluster = Cluster(self.log, self.clock, self.new_engine)
        self.cluster.start_serve()
        self.checkers: dict[str, RunChecker] = {}
        self.assignments: dict[str, TaskAssignment] = {}  # every fetched assignment, by id
        self.claims: dict[str, Work] = {}  # every accepted claim, by assignment id
        self.in_flight: list[Work] = []  # started, no result yet
        self.lost_work: list[Work] = []  # in flight when its claimant died: its attempt is lost
        self.reports: list[TaskResultReport] = []  # every result delivered

    def new_engine(self, broker: LocalBroker, member_id: str) -> Engine:
        return Engine(
            self.log,
            executors=self.executors,
            broker=broker,
            clock=self.clock,
            ids=self.ids,
            variables=[],
            notifiers=[self.hooks],
            workers=0,
            lease_ttl=LEASE_TTL,
            member_id=member_id,
        )

    def reading_engine(self) -> Engine:
        """An engine that only reads (as ``aether get`` opens one): it drives nothing."""
        return Engine(self.log, executors=self.executors, clock=self.clock, variables=[], workers=0, drives="none")

    # --- helpers --------------------------------------------------------------------------

    def state(self, run_id: str) -> RunState:
        """The run as its owner holds it; a run nobody owns (it ended) as its log folds."""
        owner = self.cluster.owner_of(run_id)
        if owner is not None:
            return owner.engine.get_state(run_id)
        checker = self.checkers[run_id]
        checker.follow(self.log)
        assert checker.state is not None
        return checker.state

    def view(self, run_id: str) -> dict[str, JSON]:
        return run_view(self.state(run_id))

    def draw_serve(self, data: st.DataObject, serves: list[Serve] | None = None) -> Serve:
        return data.draw(st.sampled_from(serves if serves is not None else self.cluster.live))

    def unfinished_runs(self) -> bool:
        return any(checker.state is not None and not checker.state.terminal for checker in self.checkers.values())

    def serves_with_work(self) -> list[Serve]:
        return [serve for serve in self.cluster.live if serve.broker.pending_count() > 0]

    def fetch(self, serve: Serve) -> TaskAssignment | None:
        assignment = serve.broker.fetch("worker-1", None, timeout=0)
        if assignment is None:
            return None
        assert serve.ownership.owns(assignment.run_id), (
            f"{serve.member_id}'s broker carries {assignment.id} of a run it does not own"
        )
        earlier = self.assignments.setdefault(assignment.id, assignment)
        assert earlier == assignment, f"{assignment.id} dispatched again differs from itself"
        return assignment

    def claim(self, serve: Serve, assignment: TaskAssignment, by_worker_process: bool) -> Work | None:
        """The worker claims the assignment before running it (ARCHITECTURE rule 6), for
        the engine it works in or for its own process; an assignment claimed before is
        refused and dropped unrun. None: refused."""
        if by_worker_process:
            claimant = self.cluster.worker_process
            worker_id = f"{claimant}-1"
            claimed = self.cluster.coordination.claim(
                Claim(
                    assignment.id,
                    assignment.run_id,
                    assignment.node_id,
                    assignment.attempt,
                    worker_id,
                    claimant,
                    self.cluster.now_ms(),
                )
            )
        else:
            claimant = serve.member_id
            worker_id = f"{claimant}-1"
            claimed = serve.ownership.claim(assignment, worker_id)
        assert claimed == (assignment.id not in self.claims), f"{assignment.id} claimed: {claimed}, twice?"
        if not claimed:
            return None
        work = Work(assignment, serve.member_id, claimant, worker_id)
        self.claims[assignment.id] = work
        return work

    def take_work(self, serve: Serve, by_worker_process: bool) -> Work | None:
        assignment = self.fetch(serve)
        return None if assignment is None else self.claim(serve, assignment, by_worker_process)

    def reporter(self, work: Work) -> Serve:
        """Where a worker's reports go: the engine that handed the work out while it lives,
        else the run's owner (a worker process outlives the engine), else any engine."""
        run_id = work.assignment.run_id
        return self.cluster.serve(work.fetched_from) or self.cluster.owner_of(run_id) or self.cluster.live[0]

    def start(self, work: Work) -> None:
        a = work.assignment
        self.reporter(work).broker.report_started(TaskStartReport(a.id, a.run_id, a.node_id, a.attempt, work.worker_id))
        self.cluster.settle()

    def finish(self, work: Work, outcome: str) -> None:
        self.test_executor.outcome = OUTCOMES[outcome]
        result = run_assignment(work.assignment, self.executors, now=self.clock.now)
        report = result.report(work.assignment, work.worker_id)
        self.reports.append(report)
        self.reporter(work).broker.report_result(report)
        self.cluster.settle()

    def suspended(self) -> list[tuple[str, str]]:
        return [
            (run_id, node.node_id)
            for run_id in self.checkers
            for node in self.state(run_id).nodes_in_order()
            if node.phase == "Suspended"
        ]

    def deliver_ignored(self, run_id: str, report: TaskStartReport | TaskResultReport) -> None:
        """Deliver a report to the run's owner (any engine, once the run has ended) that
        must be recorded as ignored and change nothing else (ARCHITECTURE rule 6, SPEC
        §7.5, §11.4)."""
        target = self.cluster.owner_of(run_id) or self.cluster.live[0]
        before = self.view(run_id)
        version = self.log.stream_version(run_stream(run_id))
        if isinstance(report, TaskStartReport):
            target.broker.report_started(report)
        else:
            target.broker.report_result(report)
        self.cluster.settle()
        new = [decode(s) for s in self.log.read(run_stream(run_id), version + 1)]
        assert [e.TYPE for e in new] == [new[0].TYPE, "InputIgnored"], [e.TYPE for e in new]
        assert self.view(run_id) == before

    def open_attempts(self, run_ids: Iterable[str]) -> dict[str, tuple[str, str, int]]:
        """assignment id -> (run, node, attempt) of every open attempt of the runs."""
        found: dict[str, tuple[str, str, int]] = {}
        for run_id in run_ids:
            state = self.state(run_id)
            if state.terminal:
                continue
            for assignment_id, node_id in state.open_attempts.items():
                found[assignment_id] = (run_id, node_id, state.node(node_id).attempt)
        return found

    def check_losses(
        self, lost: Mapping[str, tuple[str, str, int]], dead_member: str, versions: Mapping[str, int]
    ) -> None:
        """Each attempt claimed by the dead member and open when it died was recorded lost
        (``claim-expired``, naming its worker and member; SPEC §6.3) since ``versions``,
        and its next attempt dispatched."""
        recorded: dict[tuple[str, str, int], ev.AttemptLost] = {}
        for run_id in {run for run, _node, _attempt in lost.values()}:
            for stored in self.log.read(run_stream(run_id), versions[run_id] + 1):
                event = decode(stored)
                if isinstance(event, ev.AttemptLost):
                    key = (run_id, event.node_id, event.attempt)
                    assert key not in recorded, f"{key} recorded lost twice"
                    recorded[key] = event
        assert set(recorded) == set(lost.values()), (sorted(recorded), sorted(lost.values()))
        for assignment_id, (run_id, node_id, attempt) in lost.items():
            event = recorded[(run_id, node_id, attempt)]
            work = self.claims[assignment_id]
            assert (event.reason, event.worker_id, event.owner_id) == ("claim-expired", work.worker_id, dead_member)
            node = self.state(run_id).node(node_id)
            assert node.attempt == attempt + 1 and node.current_attempt is not None
            assert node.current_attempt.reason == "lost", f"{node_id}: a claimed attempt died with {dead_member}"

    def abandon_work_of(self, member_id: str) -> None:
        """Work claimed by a dead member died with it; a report it sends later is stale."""
        self.lost_work.extend(work for work in self.in_flight if work.claimant == member_id)
        self.in_flight = [work for work in self.in_flight if work.claimant != member_id]

    # --- rules ----------------------------------------------------------------------------

    @precondition(lambda self: len(self.checkers) < MAX_RUNS)
    @rule(document=workflows(), data=st.data())
    def submit(self, document: dict[str, JSON], data: st.DataObject) -> None:
        serve = self.draw_serve(data)
        run_id = serve.engine.submit(document).run_id
        assert run_id not in self.checkers
        self.checkers[run_id] = RunChecker(run_id, document)
        self.cluster.settle()
        assert serve.ownership.owns(run_id) or self.state(run_id).terminal, "the submitting engine drives the run"

    @precondition(lambda self: bool(self.serves_with_work()))
    @rule(
        data=st.data(),
        outcome=st.sampled_from(OUTCOME_NAMES),
        report_start=st.booleans(),
        by_worker_process=st.booleans(),
    )
    def run_next(self, data: st.DataObject, outcome: str, report_start: bool, by_worker_process: bool) -> None:
        """Run the next assignment of an engine; its start report may be lost (SPEC §17
        #10: a result implies the start)."""
        work = self.take_work(self.draw_serve(data, self.serves_with_work()), by_worker_process)
        if work is not None:
            if report_start:
                self.start(work)
            self.finish(work, outcome)

    @precondition(lambda self: bool(self.serves_with_work()))
    @rule(data=st.data(), by_worker_process=st.booleans())
    def start_slowly(self, data: st.DataObject, by_worker_process: bool) -> None:
        work = self.take_work(self.draw_serve(data, self.serves_with_work()), by_worker_process)
        if work is not None:
            self.start(work)
            self.in_flight.append(work)

    @precondition(lambda self: bool(self.in_flight))
    @rule(data=st.data(), outcome=st.sampled_from(OUTCOME_NAMES))
    def finish_slow(self, data: st.DataObject, outcome: str) -> None:
        work = data.draw(st.sampled_from(self.in_flight))
        self.in_flight.remove(work)
        self.finish(work, outcome)

    @precondition(lambda self: bool(self.in_flight))
    @rule(data=st.data())
    def duplicate_start(self, data: st.DataObject) -> None:
        """A worker reports the start of a running attempt again (SPEC §7.5, §11.4: task
        ``onStart`` fires once per accepted start)."""
        work = data.draw(st.sampled_from(self.in_flight))
        a = work.assignment
        self.deliver_ignored(a.run_id, TaskStartReport(a.id, a.run_id, a.node_id, a.attempt, work.worker_id))

    @precondition(lambda self: bool(self.reports))
    @rule(data=st.data())
    def duplicate_result(self, data: st.DataObject) -> None:
        report = data.draw(st.sampled_from(self.reports))
        self.deliver_ignored(report.run_id, report)

    @precondition(lambda self: bool(self.assignments))
    @rule(data=st.data(), code=st.integers(0, 4), start=st.booleans())
    def late_stale_report(self, data: st.DataObject, code: int, start: bool) -> None:
        """A start or result for an attempt that is no longer current, or whose node or
        run has ended (late, after a retry, a resume, a deadline, a loss or a cancel)."""
        stale = []
        for assignment in self.assignments.values():
            state = self.state(assignment.run_id)
            node = state.node(assignment.node_id)
            if state.terminal or node.terminal or node.attempt != assignment.attempt:
                stale.append(assignment)
        if not stale:
            return
        a = data.draw(st.sampled_from(stale))
        report: TaskStartReport | TaskResultReport
        if start:
            report = TaskStartReport(a.id, a.run_id, a.node_id, a.attempt, "late-worker")
        else:
            report = TaskResultReport(a.id, a.run_id, a.node_id, a.attempt, "late-worker", code, "late")
        self.deliver_ignored(a.run_id, report)

    @precondition(lambda self: bool(self.lost_work))
    @rule(data=st.data(), outcome=st.sampled_from(OUTCOME_NAMES), start=st.booleans())
    def lost_work_reports(self, data: st.DataObject, outcome: str, start: bool) -> None:
        """Work whose claimant died goes on somewhere (a paused process, a partitioned
        worker) and reports to the run's new owner: its attempt was recorded lost and the
        next one dispatched, so the report is stale (ARCHITECTURE rule 6)."""
        work = data.draw(st.sampled_from(self.lost_work))
        a = work.assignment
        report: TaskStartReport | TaskResultReport
        if start:
            report = TaskStartReport(a.id, a.run_id, a.node_id, a.attempt, work.worker_id)
        else:
            self.test_executor.outcome = OUTCOMES[outcome]
            report = run_assignment(a, self.executors, now=self.clock.now).report(a, work.worker_id)
            self.lost_work.remove(work)
        self.deliver_ignored(a.run_id, report)

    @precondition(lambda self: self.cluster.next_timer_due_ms() is not None)
    @rule()
    def advance_clock_to_next_timer(self) -> None:
        due = self.cluster.next_timer_due_ms()
        assert due is not None
        self.clock.set(max(ms_to_datetime(due), self.clock.now()))
        self.cluster.keep_alive()
        self.cluster.settle()

    @rule(data=st.data())
    def resume_suspended(self, data: st.DataObject) -> None:
        """Any engine takes the request; the run's owner dispatches what it asks for."""
        candidates = self.suspended()
        if not candidates:
            return
        run_id, node_id = data.draw(st.sampled_from(candidates))
        self.draw_serve(data).engine.resume(run_id, node_id, {"__resumed": True})
        self.cluster.settle()
        assert self.state(run_id).node(node_id).phase == "Ready"

    @precondition(lambda self: bool(self.checkers))
    @rule(data=st.data())
    def resume_not_suspended(self, data: st.DataObject) -> None:
        run_id = data.draw(st.sampled_from(sorted(self.checkers)))
        state = self.state(run_id)
        nodes = [n.node_id for n in state.nodes_in_order() if n.phase != "Suspended"]
        node_id = data.draw(st.sampled_from([*nodes, "no/such/node"]))
        with pytest.raises(RequestRejected) as refused:
            self.draw_serve(data).engine.resume(run_id, node_id, {"__resumed": True})
        self.cluster.settle()
        if state.terminal:
            expected = "E-RUN-TERMINAL"
        elif node_id == "no/such/node":
            expected = "E-NODE-UNKNOWN"
        else:
            expected = "E-RESUME-NOT-SUSPENDED"
        assert refused.value.code == expected

    @precondition(lambda self: bool(self.checkers))
    @rule(data=st.data(), chance=st.integers(0, 3))
    def cancel(self, data: st.DataObject, chance: int) -> None:
        if chance < 3:
            return  # keep cancels rare, so runs get far (and shrinking drops them)
        run_id = data.draw(st.sampled_from(sorted(self.checkers)))
        engine = self.draw_serve(data).engine
        if self.state(run_id).terminal:
            with pytest.raises(RequestRejected) as refused:
                engine.cancel(run_id)
            assert refused.value.code == "E-RUN-TERMINAL"
            self.cluster.settle()
            return
        engine.cancel(run_id)
        self.cluster.settle()
        state = self.state(run_id)
        assert state.phase == "Cancelled"
        assert all(node.terminal for node in state.nodes_in_order())

    @precondition(lambda self: len(self.cluster.live) > 1 and bool(self.in_flight))
    @rule(data=st.data(), outcome=st.sampled_from(OUTCOME_NAMES))
    def request_while_a_report_waits(self, data: st.DataObject, outcome: str) -> None:
        """Another engine records a request for a run (a resume of a suspended node, else
        a cancel) while the run's owner has a report for it that it has not processed yet:
        the owner's append conflicts, it decides the report again on the log as it is now,
        and it still performs what the other engine's events ask for when it reads them
        (ARCHITECTURE rule 5)."""
        work = data.draw(st.sampled_from(self.in_flight))
        run_id = work.assignment.run_id
        owner = self.cluster.owner_of(run_id)
        if owner is None or self.state(run_id).terminal:
            return
        self.in_flight.remove(work)
        self.test_executor.outcome = OUTCOMES[outcome]
        report = run_assignment(work.assignment, self.executors, now=self.clock.now).report(
            work.assignment, work.worker_id
        )
        self.reports.append(report)
        self.reporter(work).broker.report_result(report)
        other = self.draw_serve(data, [serve for serve in self.cluster.live if serve is not owner])
        waiting = [node_id for run, node_id in self.suspended() if run == run_id]
        if waiting:
            other.engine.resume(run_id, data.draw(st.sampled_from(waiting)), {"__resumed": True})
        else:
            other.engine.cancel(run_id)
        self.cluster.settle()

    @precondition(lambda self: len(self.cluster.live) < MAX_ENGINES)
    @rule()
    def second_engine_joins(self) -> None:
        """Another engine process starts on the same log while the others live: it leases
        only orphaned runs (there are none: every unfinished run has a live owner) and
        takes nothing from the others (ARCHITECTURE rule 4)."""
        owned = {serve.member_id: set(serve.ownership.owned) for serve in self.cluster.live}
        views = {run_id: self.view(run_id) for run_id in self.checkers}
        newcomer = self.cluster.start_serve()
        assert not newcomer.ownership.owned, f"{newcomer.member_id} leased {newcomer.ownership.owned}"
        for serve in self.cluster.live[:-1]:
            assert serve.ownership.owned == owned[serve.member_id]
        assert {run_id: self.view(run_id) for run_id in self.checkers} == views
        self.cluster.housekeeping()  # the others learn of it at their next round
        self.cluster.settle()

    @precondition(lambda self: self.unfinished_runs())
    @rule(data=st.data(), chance=st.integers(0, 2))
    def restart(self, data: st.DataObject, chance: int) -> None:
        """An engine process dies and a new one starts on the same log: the new engine
        leases its share of the dead one's runs (the others take the rest at their next
        round), rebuilds them from the log, records every attempt its workers had claimed and not finished as lost (its
        task died with the process, SPEC §6.3) and dispatches the next attempt, and
        re-issues open dispatches and unfired timers (ARCHITECTURE rule 5). Work a worker
        process claimed goes on and reports to the new owner."""
        if chance == 0:  # deaths are rare, so that runs get far between them
            self.take_over(self.draw_serve(data), lease_lapses=False)

    @precondition(lambda self: self.unfinished_runs())
    @rule(data=st.data(), chance=st.integers(0, 2))
    def lease_expires(self, data: st.DataObject, chance: int) -> None:
        """An engine stops renewing (paused, partitioned) for longer than the lease time:
        a surviving engine's housekeeping (or, with none alive, a new engine's recovery)
        finds it expired, removes it and takes its runs over. The expired engine is fenced:
        it can neither renew nor append."""
        if chance == 0:
            self.take_over(self.draw_serve(data), lease_lapses=True)

    def take_over(self, victim: Serve, *, lease_lapses: bool) -> None:
        runs = sorted(victim.ownership.owned)
        open_before = self.open_attempts(runs)
        lost = {
            assignment_id: where
            for assignment_id, where in open_before.items()
            if assignment_id in self.claims and self.claims[assignment_id].claimant == victim.member_id
        }
        lost_runs = {run_id for run_id, _node, _attempt in lost.values()}
        views = {run_id: self.view(run_id) for run_id in self.checkers}
        versions = {run_id: self.log.stream_version(run_stream(run_id)) for run_id in self.checkers}
        self.cluster.bury(victim)
        if lease_lapses:
            self.clock.advance(timedelta(seconds=LEASE_TTL + 1))
            self.cluster.keep_alive()  # everyone else's keeper renews; the victim's does not
        else:
            declare_dead(victim.engine)
        pending = sum(serve.broker.pending_count() for serve in self.cluster.live)
        if not (lease_lapses and self.cluster.live):
            self.cluster.start_serve()  # it recovers its share of the orphaned runs
        self.cluster.housekeeping()  # the others' next rounds take up the rest
        # Nothing else moved yet (due timers fire when the engines next pump).
        self.check_losses(lost, victim.member_id, versions)
        for run_id, view in views.items():
            if run_id not in lost_runs:
                assert self.view(run_id) == view, f"{run_id} changed when {victim.member_id} died"
        for run_id in runs:
            assert self.cluster.owner_of(run_id) or self.state(run_id).terminal, f"{run_id} was not taken over"
        # Every open attempt of the runs taken over is dispatched again by its new owner:
        # lost ones as their next attempt, unclaimed ones as themselves; one a live member
        # (a worker process) holds a claim on stays in its hands and is not queued again.
        live = {member.member_id for member in self.log.coordination.members()}
        reissued = sum(
            1
            for run_id in runs
            if self.cluster.owner_of(run_id)
            for assignment_id in self.state(run_id).open_attempts
            if not (assignment_id in self.claims and self.claims[assignment_id].claimant in live)
        )
        assert sum(serve.broker.pending_count() for serve in self.cluster.live) == pending + reissued
        self.check_fenced(victim)
        self.abandon_work_of(victim.member_id)
        self.cluster.housekeeping()
        self.cluster.settle()

    def check_fenced(self, dead: Serve) -> None:
        """A removed engine cannot come back: its next round finds it fenced, and its
        appends are refused with nothing written (ARCHITECTURE rule 9)."""
        dead.engine.housekeeping()
        assert dead.engine.fenced
        if self.checkers:
            position = self.log.last_position()
            with pytest.raises(Fenced):
                dead.engine.cancel(min(self.checkers))
            assert self.log.last_position() == position

    @precondition(lambda self: any(work.claimant == self.cluster.worker_process for work in self.in_flight))
    @rule()
    def worker_process_dies(self) -> None:
        """A worker process with claims dies: the owners of the runs find its claims dead
        at their next round, record those attempts lost (``claim-expired``) and dispatch
        their next attempts (SPEC §6.3, ARCHITECTURE rule 6)."""
        dying = self.cluster.worker_process
        lost = {
            assignment_id: where
            for assignment_id, where in self.open_attempts(self.checkers).items()
            if assignment_id in self.claims and self.claims[assignment_id].claimant == dying
        }
        versions = {run_id: self.log.stream_version(run_stream(run_id)) for run_id in self.checkers}
        assert self.cluster.replace_worker_process() == dying
        for serve in self.cluster.live:
            serve.engine.housekeeping()
        self.check_losses(lost, dying, versions)
        self.abandon_work_of(dying)
        self.cluster.housekeeping()  # the engines learn of the new worker process
        self.cluster.settle()

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def log_follows_spec(self) -> None:
        """Each run's log follows SPEC, and every engine whose copy of a run is current
        (its owner's always is) holds the fold of the log."""
        for run_id, checker in self.checkers.items():
            checker.follow(self.log)
            assert checker.state is not None
            owner = self.cluster.owner_of(run_id)
            if owner is not None:
                state = owner.engine.get_state(run_id)
                assert run_view(checker.state) == run_view(state), "engine state differs from the fold of its log"
                assert checker.state == state
            for serve in self.cluster.live:
                cached = serve.engine.runs.cached(run_id)
                if cached is not None and cached.version == checker.version:
                    assert cached.state == checker.state, f"{serve.member_id} holds another {run_id}"

    @invariant()
    def one_owner_per_run(self) -> None:
        """No two live engines own a run; an engine owns exactly the runs whose lease names
        it; every unfinished run has a live owner (ARCHITECTURE rule 4)."""
        owners: dict[str, str] = {}
        for serve in self.cluster.live:
            for run_id in serve.ownership.owned:
                assert run_id not in owners, f"{run_id} is owned by {owners[run_id]} and {serve.member_id}"
                owners[run_id] = serve.member_id
                lease = self.cluster.coordination.lease(run_id)
                assert lease is not None and lease.owner is not None, f"{serve.member_id} owns {run_id} without lease"
                assert lease.owner.member_id == serve.member_id
        for run_id, checker in self.checkers.items():
            assert checker.state is not None
            if not checker.state.terminal:
                assert run_id in owners, f"unfinished {run_id} has no live owner"

    # --- teardown: drain everything and check the end state --------------------------------

    def teardown(self) -> None:
        if not self.checkers:
            return
        for _ in range(500):
            self.cluster.settle()
            progressed = False
            while self.in_flight:
                self.finish(self.in_flight.pop(0), "success")
                progressed = True
            for run_id, node_id in self.suspended():
                (self.cluster.owner_of(run_id) or self.cluster.live[0]).engine.resume(
                    run_id, node_id, {"__resumed": True}
                )
                self.cluster.settle()
                progressed = True
            for serve in self.cluster.live:
                while (assignment := self.fetch(serve)) is not None:
                    progressed = True
                    work = self.claim(serve, assignment, by_worker_process=False)
                    if work is not None:
                        self.start(work)
                        self.finish(work, "success")
            if all(self.state(run_id).terminal for run_id in self.checkers):
                break
            if not progressed:
                for run_id in self.checkers:
                    self.assert_not_stuck(run_id)
                due = self.cluster.next_timer_due_ms()
                assert due is not None, "runs are not terminal and nothing can move them"
                self.clock.set(max(ms_to_datetime(due), self.clock.now()))
                self.cluster.keep_alive()
        self.log_follows_spec()
        self.one_owner_per_run()
        for run_id in self.checkers:
            self.check_settled(run_id)
        reader = self.reading_engine()
        for run_id, checker in self.checkers.items():
            self.check_final(run_id, checker, reader)

    def check_settled(self, run_id: str) -> None:
        """A finished run owes nothing: its hooks were delivered (SPEC §11.5) and its
        owner released its lease, so no engine keeps it (ARCHITECTURE rule 4)."""
        state = self.state(run_id)
        assert not state.undelivered_hooks, f"run {run_id} ended with hooks never delivered: {state.undelivered_hooks}"
        owner = self.cluster.owner_of(run_id)
        assert owner is None, f"finished run {run_id} is still owned by {owner.member_id}"
        assert self.cluster.coordination.lease(run_id) is None, f"finished run {run_id} keeps a lease"

    def assert_not_stuck(self, run_id: str) -> None:
        """Called when no worker has anything to do: a run that is not terminal must be
        waiting for a task, retry or container timer of a live node. An open attempt here
        reached no worker: a dispatch was lost (ARCHITECTURE rule 5)."""
        state = self.state(run_id)
        if state.terminal:
            return
        lost = sorted(state.open_attempts.keys())
        assert not lost, f"run {run_id}: dispatched attempts {lost} reached no worker"
        waits = [
            t
            for t in state.timers.values()
            if not t.fired and t.purpose != "workflow" and t.node_id is not None and not state.node(t.node_id).terminal
        ]
        assert waits, f"run {run_id} hangs: {[(n.node_id, n.phase) for n in state.nodes_in_order()]}"

    def check_final(self, run_id: str, checker: RunChecker, reader: Engine) -> None:
        state = self.state(run_id)
        nodes = state.nodes_in_order()
        assert state.terminal
        assert all(node.terminal for node in nodes), [(n.node_id, n.phase) for n in nodes if not n.terminal]
        entry = state.node(state.entry_id() or "")
        if state.phase == "Timeout":  # only through the workflow deadline (§7.7, §10.1)
            assert entry.phase == "Timeout" and state.message == "workflow deadline exceeded"
        else:
            assert state.phase == RUN_PHASE_OF_ENTRY[entry.phase], (state.phase, entry.phase, entry.message)
            if state.phase != "Cancelled":
                assert state.message == RUN_MESSAGE[state.phase], (state.phase, state.message)
        children: dict[str, list[str]] = {}
        for node in nodes:
            if node.parent_id is not None:
                children.setdefault(node.parent_id, []).append(node.node_id)
        for node in nodes:
            if node.template_type != "task":
                self.check_container(state, checker, node.node_id, children.get(node.node_id, []))
        self.check_hooks(state, checker)
        # Recovery and rebuild agree: a fresh fold of the log, and a fresh engine on it.
        fresh = fold(decode(s) for s in self.log.read(run_stream(run_id)))
        assert fresh is not None
        assert run_view(fresh) == run_view(state)
        assert reader.get(run_id) == run_view(state)

    def check_hooks(self, state: RunState, checker: RunChecker) -> None:
        """SPEC §11.5: which hooks fire, and how often, for the run and each DAG task."""
        fired: Counter[tuple[str | None, str]] = Counter()
        starts: Counter[str] = Counter()
        suspends: Counter[str] = Counter()
        resumes: Counter[str] = Counter()
        for event in expand_all(checker.events):
            if isinstance(event, ev.HookFired):
                fired[(event.node_id, event.hook_type)] += 1
            elif isinstance(event, ev.PhaseChanged) and event.node_id and event.to_phase == "Running":
                starts[event.node_id] += 1
            elif isinstance(event, ev.TaskResultRecorded) and event.phase == "Suspended":
                suspends[event.node_id] += 1
            elif isinstance(event, ev.TaskDispatched) and event.reason == "resume":
                resumes[event.node_id] += 1
        declared = checker.document["spec"].get("hooks", {})
        phase_hook = PHASE_HOOK[state.phase]
        for hook in declared:
            if hook == "onStart":
                expected = 1 if state.started_ms is not None else 0
            elif hook == "onExit":
                expected = 1
            else:
                expected = 1 if hook == phase_hook else 0
            assert fired[(None, hook)] == expected, ("workflow", hook, state.phase, fired[(None, hook)])
        cancelled_by_user = state.phase == "Cancelled"
        for node in state.nodes_in_order():
            site = checker.call_site(node.node_id)
            hooks = site.get("hooks", {}) if site is not None else {}
            if node.phase == "Skipped" or not hooks:
                assert not [k for k in fired if k[0] == node.node_id], f"{node.node_id} fired hooks"
                continue
            by_cancel = node.phase == "Cancelled" and cancelled_by_user
            by_workflow_deadline = node.message == "workflow deadline exceeded"
            for hook in hooks:
                if node.is_leaf:
                    ended = 0 if by_workflow_deadline else 1
                    expected = {
                        "onStart": starts[node.node_id],
                        "onSuspend": suspends[node.node_id],
                        "onResume": resumes[node.node_id],
                        "onExit": ended,
                    }.get(hook, ended if hook == PHASE_HOOK[node.phase] else 0)
                else:
                    expected = 1 if by_cancel and hook in ("onCancel", "onExit") else 0
                got = fired[(node.node_id, hook)]
                assert got == expected, (node.node_id, node.phase, node.message, hook, got, expected)

    def check_container(self, state: RunState, checker: RunChecker, node_id: str, kids: list[str]) -> None:
        node = state.node(node_id)
        if node.phase == "Skipped":
            assert not kids, f"skipped {node_id} has children"
            return
        if node.phase == "Timeout":
            return  # its own, an enclosing or the workflow deadline (§10)
        if node.phase == "Cancelled" and state.phase == "Cancelled" and state.message == node.message:
            return  # cancelled by §11.3
        if node.phase == "Error" and node.message.startswith(("expand loop", "repeatCondition:")):
            return  # §8.1, §8.2
        dag = checker.dag_of(node_id)
        phases: list[tuple[str, frozenset[str]]] = []
        for kid_id in kids:
            kid = state.node(kid_id)
            if dag is not None:
                task = dag["tasks"][kid.task_index]
                phases.append((kid.phase, checker.task_tolerance(dag, task)))
            else:
                phases.append((kid.phase, frozenset()))
        assert node.phase == aggregate(phases), (node_id, node.phase, [(k, state.node(k).phase) for k in kids])
        if not kids:  # §7.8: empty scopes
            expected = "no runnable tasks" if dag is not None else "loop had no iterations"
        else:
            expected = AGGREGATE_MESSAGE[node.phase]
        assert node.message == expected, (node_id, node.phase, node.message)
        if dag is not None:
            self.check_dag_complete(state, checker, node_id, dag)
        else:
            self.check_loop_complete(state, checker, node_id, len(kids))

    def check_dag_complete(self, state: RunState, checker: RunChecker, node_id: str, dag: dict[str, JSON]) -> None:
        """§7.6: a DAG finalizes only when no task is ready: every reachable task whose
        dependencies all have satisfying terminal nodes got a node."""
        reachable = reachable_tasks(dag)
        by_name = {t["name"]: t for t in dag["tasks"]}
        for task in dag["tasks"]:
            name = task["name"]
            if name not in reachable or state.get_node(f"{node_id}/{name}") is not None:
                continue
            blocked = False
            for dep in task.get("dependencies", ()):
                dep_node = state.get_node(f"{node_id}/{dep}")
                if dep_node is None or not satisfies(dep_node.phase, checker.task_tolerance(dag, by_name[dep])):
                    blocked = True
            assert blocked, f"{node_id} finished {state.node(node_id).phase} but task {name} was ready"

    def check_loop_complete(self, state: RunState, checker: RunChecker, node_id: str, count: int) -> None:
        """§8.1, §8.2: an items loop runs every (kept) item; a repeat loop at most maxIterations."""
        kind, loop = checker.templates[checker.template_of[node_id]]
        assert kind == "loop"
        if "repeatCondition" in loop:
            assert 1 <= count <= loop["maxIterations"]
            return
        items = loop["items"] if "items" in loop else loop["inputs"]["parameters"][0]["value"]
        expected = len(items)
        if loop.get("maxIterations", 0) > 0:
            expected = min(expected, loop["maxIterations"])
        assert count == expected, (node_id, count, expected)


EngineMachine.TestCase.settings = settings(stateful_step_count=50)
TestEngineMachine = EngineMachine.TestCase


# --- the machine's shortest known failures, kept as plain tests ----------------------------
# Each drives the machine through the steps hypothesis found, so that a regression fails
# at once with a precise message instead of after minutes of shrinking.

SINGLE_TASK = {
    "apiVersion": "aether/v1",
    "kind": "Workflow",
    "metadata": {"name": "single"},
    "spec": {
        "entrypoint": "t",
        "hooks": {"onExit": {"template": "hook"}},
        "templates": [
            {"task": {"name": "t", "executor": {"type": "test"}}},
            {"task": {"name": "hook", "executor": {"type": "echo"}}},
        ],
    },
}


class FirstChoice:
    """Stands in for ``st.data()``: draws the first element of a ``sampled_from``."""

    def draw(self, strategy: Any) -> Any:
        inner = getattr(strategy, "wrapped_strategy", strategy)
        return inner.elements[0]


def checked(machine: EngineMachine) -> None:
    machine.log_follows_spec()
    machine.one_owner_per_run()


def test_an_attempt_claimed_by_a_surviving_worker_process_runs_once() -> None:
    """The engine that handed out the work dies; the worker process that claimed it lives
    on and reports to the run's new owner, which had dispatched the attempt again as
    itself. Once the run has ended, that copy must not be handed out (and claimed) again."""
    machine, data = EngineMachine(), FirstChoice()
    machine.submit(SINGLE_TASK, data)
    machine.start_slowly(data, by_worker_process=True)
    checked(machine)
    machine.restart(data, chance=0)
    checked(machine)
    machine.finish_slow(data, outcome="success")
    checked(machine)
    machine.teardown()


def test_a_request_recorded_by_another_engine_is_performed_by_the_owner() -> None:
    """Another engine cancels a run while its owner still has a report of it to process:
    the owner's append conflicts and it decides the report again, and it must still
    perform what the cancel recorded (the run's end, its hooks), releasing the run."""
    machine, data = EngineMachine(), FirstChoice()
    machine.submit(SINGLE_TASK, data)
    machine.second_engine_joins()
    machine.start_slowly(data, by_worker_process=False)
    checked(machine)
    machine.request_while_a_report_waits(data, outcome="success")
    checked(machine)
    machine.teardown()
