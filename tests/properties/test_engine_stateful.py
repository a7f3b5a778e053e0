"""A state machine that drives the real ``Engine`` (ARCHITECTURE "Tests that hold it
together": random worker outcomes, no completion lost or counted twice).

Wiring as in the conformance runner (SPEC §16.1): in-memory log, ``FakeClock``, sequential
run ids, an in-process broker and a worker played by the machine. Leaves run ``echo`` or
the executor ``test``, whose outcome the machine chooses. Rules: submit a generated
document; run the next assignment with an outcome; start one without finishing it
("slow") and finish it later; deliver a duplicate of an earlier result; deliver a late
start or result for a stale attempt; advance the clock to the next armed timer; resume a
suspended node (and, refused, a node that is not suspended or does not exist); cancel a
run; restart the engine on the same log (recovery re-issues open work and timers).

Checked after every step, reading each run's log: every phase change follows an edge of
SPEC §6.4; no node completes twice; no attempt gets two results; nothing is created or
dispatched after the run ended; attempts are numbered 1, 2, 3, ... with the right reason,
retry count, timeout and deadline (§6.3, §9.2, §10.2, §11.2, §14.1); a DAG task gets a
node only when it is reachable and each dependency is terminal and satisfies it (§7.3.2);
loop iterations respect index order, ``concurrency``, serial repeat and ``maxIterations``
(§8); a retry happens only within the call site's policy (§9.1); workflow hooks fire at
most once per type; the engine's state equals the fold of its log; ignored reports change
nothing.

At teardown the machine drains everything (finishes slow work, resumes suspended nodes,
runs what is pending with success, advances the clock) and checks: every node is
terminal, nothing ever hung, the run phase is the entry node's phase mapped (§7.7), each
container's phase is the aggregation of its children (§7.6), DAGs and loops created every
child they had to, workflow and task hooks fired exactly as §11.5 says, and a fresh fold
of the log and a fresh engine over the same log (recovery) show the same run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from support.deaths import declare_dead

from aether.events import catalog as ev
from aether.events.assignment import TaskAssignment, TaskResultReport, TaskStartReport
from aether.events.codec import decode
from aether.events.times import ms_to_datetime
from aether.projections.views import run_view
from aether.reducers.run import apply, fold
from aether.reducers.state import RunState
from aether.runtime.broker import LocalBroker
from aether.runtime.clock import FakeClock
from aether.runtime.engine import Engine, RequestRejected, run_stream
from aether.runtime.executors.base import ExecContext, ExecResult
from aether.runtime.executors.echo import EchoExecutor
from aether.runtime.ids import SequentialIds
from aether.runtime.notifiers import RecordingNotifier
from aether.runtime.worker import run_assignment
from aether.store.memory import InMemoryEventLog
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

    def follow(self, log: InMemoryEventLog) -> None:
        for stored in log.read(run_stream(self.run_id), self.version + 1):
            assert stored.version == self.version + 1, "versions are contiguous"
            self.version = stored.version
            event = decode(stored)
            self.events.append(event)
            self.state = apply(self.state, event)
            self.check(event)

    # --- per event ------------------------------------------------------------------------

    def move(self, node_id: str, to_phase: str, event: ev.Event) -> None:
        before = self.phase[node_id]
        kind = self.kind[node_id]
        if not (before == to_phase == "Ready" and kind == "task"):
            assert spec_allows(kind, before, to_phase), (
                f"{event.TYPE}: {node_id} ({kind}) {before} -> {to_phase} is not a SPEC §6.4 edge"
            )
        self.phase[node_id] = to_phase

    def check(self, event: ev.Event) -> None:
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
        else:
            assert event.reason == "retry", event.reason
        self.inputs[node_id] = assignment.inputs
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
        self.broker = LocalBroker(order="fifo")
        self.test_executor = ChosenOutcomeExecutor()
        self.executors = {"echo": EchoExecutor(), "test": self.test_executor}
        self.hooks = RecordingNotifier()
        self.ids = SequentialIds()  # one sequence across restarts: run ids are never reused
        self.engine = self.new_engine(self.broker)
        self.checkers: dict[str, RunChecker] = {}
        self.assignments: dict[str, TaskAssignment] = {}  # every fetched assignment
        self.in_flight: list[TaskAssignment] = []  # started, no result yet
        self.reports: list[TaskResultReport] = []  # every result delivered

    def new_engine(self, broker: LocalBroker) -> Engine:
        return Engine(
            self.log,
            executors=self.executors,
            broker=broker,
            clock=self.clock,
            ids=self.ids,
            variables=[],
            notifiers=[self.hooks],
            workers=0,
        )

    # --- helpers --------------------------------------------------------------------------

    def state(self, run_id: str) -> RunState:
        return self.engine.get_state(run_id)

    def fetch(self) -> TaskAssignment | None:
        self.engine.pump()
        assignment = self.broker.fetch("worker-1", None, timeout=0)
        if assignment is not None:
            self.assignments[assignment.id] = assignment
        return assignment

    def start(self, assignment: TaskAssignment) -> None:
        self.broker.report_started(
            TaskStartReport(assignment.id, assignment.run_id, assignment.node_id, assignment.attempt, "worker-1")
        )
        self.engine.pump()

    def finish(self, assignment: TaskAssignment, outcome: str) -> None:
        self.test_executor.outcome = OUTCOMES[outcome]
        result = run_assignment(assignment, self.executors, now=self.clock.now)
        report = result.report(assignment, "worker-1")
        self.reports.append(report)
        self.broker.report_result(report)
        self.engine.pump()

    def suspended(self) -> list[tuple[str, str]]:
        return [
            (run_id, node.node_id)
            for run_id in self.checkers
            for node in self.state(run_id).nodes_in_order()
            if node.phase == "Suspended"
        ]

    def deliver_ignored(self, run_id: str, report: TaskStartReport | TaskResultReport) -> None:
        """Deliver a report that must be recorded as ignored and change nothing else
        (ARCHITECTURE rule 6, SPEC §7.5, §11.4)."""
        before = self.engine.get(run_id)
        version = self.log.stream_version(run_stream(run_id))
        if isinstance(report, TaskStartReport):
            self.broker.report_started(report)
        else:
            self.broker.report_result(report)
        self.engine.pump()
        new = [decode(s) for s in self.log.read(run_stream(run_id), version + 1)]
        assert [e.TYPE for e in new] == [new[0].TYPE, "InputIgnored"], [e.TYPE for e in new]
        assert self.engine.get(run_id) == before

    # --- rules ----------------------------------------------------------------------------

    @precondition(lambda self: len(self.checkers) < MAX_RUNS)
    @rule(document=workflows())
    def submit(self, document: dict[str, JSON]) -> None:
        run_id = self.engine.submit(document).run_id
        assert run_id not in self.checkers
        self.checkers[run_id] = RunChecker(run_id, document)

    @precondition(lambda self: self.broker.pending_count() > 0)
    @rule(outcome=st.sampled_from(OUTCOME_NAMES), report_start=st.booleans())
    def run_next(self, outcome: str, report_start: bool) -> None:
        """Run the next assignment; its start report may be lost (SPEC §17 #10: a result
        implies the start)."""
        assignment = self.fetch()
        if assignment is not None:
            if report_start:
                self.start(assignment)
            self.finish(assignment, outcome)

    @precondition(lambda self: self.broker.pending_count() > 0)
    @rule()
    def start_slowly(self) -> None:
        assignment = self.fetch()
        if assignment is not None:
            self.start(assignment)
            self.in_flight.append(assignment)

    @precondition(lambda self: bool(self.in_flight))
    @rule(data=st.data(), outcome=st.sampled_from(OUTCOME_NAMES))
    def finish_slow(self, data: st.DataObject, outcome: str) -> None:
        assignment = data.draw(st.sampled_from(self.in_flight))
        self.in_flight.remove(assignment)
        self.finish(assignment, outcome)

    @precondition(lambda self: bool(self.in_flight))
    @rule(data=st.data())
    def duplicate_start(self, data: st.DataObject) -> None:
        """A worker reports the start of a running attempt again (SPEC §7.5, §11.4: task
        ``onStart`` fires once per accepted start)."""
        a = data.draw(st.sampled_from(self.in_flight))
        self.deliver_ignored(a.run_id, TaskStartReport(a.id, a.run_id, a.node_id, a.attempt, "worker-1"))

    @precondition(lambda self: bool(self.reports))
    @rule(data=st.data())
    def duplicate_result(self, data: st.DataObject) -> None:
        report = data.draw(st.sampled_from(self.reports))
        self.deliver_ignored(report.run_id, report)

    @precondition(lambda self: bool(self.assignments))
    @rule(data=st.data(), code=st.integers(0, 4), start=st.booleans())
    def late_stale_report(self, data: st.DataObject, code: int, start: bool) -> None:
        """A start or result for an attempt that is no longer current, or whose node or
        run has ended (late, after a retry, a resume, a deadline or a cancel)."""
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

    @precondition(lambda self: self.engine.next_timer_due_ms() is not None)
    @rule()
    def advance_clock_to_next_timer(self) -> None:
        due = self.engine.next_timer_due_ms()
        assert due is not None
        self.clock.set(max(ms_to_datetime(due), self.clock.now()))
        self.engine.pump()

    @rule(data=st.data())
    def resume_suspended(self, data: st.DataObject) -> None:
        candidates = self.suspended()
        if not candidates:
            return
        run_id, node_id = data.draw(st.sampled_from(candidates))
        self.engine.resume(run_id, node_id, {"__resumed": True})
        assert self.state(run_id).node(node_id).phase == "Ready"

    @precondition(lambda self: bool(self.checkers))
    @rule(data=st.data())
    def resume_not_suspended(self, data: st.DataObject) -> None:
        run_id = data.draw(st.sampled_from(sorted(self.checkers)))
        state = self.state(run_id)
        nodes = [n.node_id for n in state.nodes_in_order() if n.phase != "Suspended"]
        node_id = data.draw(st.sampled_from([*nodes, "no/such/node"]))
        with pytest.raises(RequestRejected) as refused:
            self.engine.resume(run_id, node_id, {"__resumed": True})
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
        if self.state(run_id).terminal:
            with pytest.raises(RequestRejected) as refused:
                self.engine.cancel(run_id)
            assert refused.value.code == "E-RUN-TERMINAL"
            return
        self.engine.cancel(run_id)
        state = self.state(run_id)
        assert state.phase == "Cancelled"
        assert all(node.terminal for node in state.nodes_in_order())

    @rule()
    def restart(self) -> None:
        """The engine process dies and a new one starts on the same log: it rebuilds every
        run from the log, records every attempt that had recorded its start and no result as
        lost (its task died with the process, SPEC §6.3) and dispatches the next attempt,
        and re-issues open dispatches and unfired timers (ARCHITECTURE rule 5). Work in
        flight whose start was not recorded yet reports to the new broker as the same
        attempt; a report of a lost attempt is stale."""
        lost = {
            (run_id, node.node_id, node.attempt)
            for run_id in self.checkers
            if not (state := self.state(run_id)).terminal
            for node in state.nodes_in_order()
            if (attempt := node.current_attempt) is not None
            and attempt.started_ms is not None
            and attempt.code is None
            and attempt.assignment_id in state.open_attempts
        }
        views = {run_id: self.engine.get(run_id) for run_id in self.checkers}
        declare_dead(self.engine)
        self.broker = LocalBroker(order="fifo")
        self.engine = self.new_engine(self.broker)
        self.engine.recover()
        for run_id, view in views.items():
            if not any(run == run_id for run, _node, _attempt in lost):
                assert self.engine.get(run_id) == view, "a restarted engine sees a different run"
        for run_id, node_id, attempt in lost:
            node = self.state(run_id).node(node_id)
            assert node.attempt == attempt + 1 and node.current_attempt is not None
            assert node.current_attempt.reason == "lost", "a started attempt died with its engine"
        self.in_flight = [a for a in self.in_flight if (a.run_id, a.node_id, a.attempt) not in lost]

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def log_follows_spec(self) -> None:
        for run_id, checker in self.checkers.items():
            checker.follow(self.log)
            state = self.state(run_id)
            assert checker.state is not None
            assert run_view(checker.state) == run_view(state), "engine state differs from the fold of its log"
            assert checker.state == state

    # --- teardown: drain everything and check the end state --------------------------------

    def teardown(self) -> None:
        if not self.checkers:
            return
        for _ in range(500):
            self.engine.pump()
            progressed = False
            while self.in_flight:
                self.finish(self.in_flight.pop(0), "success")
                progressed = True
            for run_id, node_id in self.suspended():
                self.engine.resume(run_id, node_id, {"__resumed": True})
                progressed = True
            while (assignment := self.fetch()) is not None:
                self.start(assignment)
                self.finish(assignment, "success")
                progressed = True
            if all(self.state(run_id).terminal for run_id in self.checkers):
                break
            if not progressed:
                for run_id in self.checkers:
                    self.assert_not_stuck(run_id)
                due = self.engine.next_timer_due_ms()
                assert due is not None, "runs are not terminal and nothing can move them"
                self.clock.set(max(ms_to_datetime(due), self.clock.now()))
        self.log_follows_spec()
        for run_id, checker in self.checkers.items():
            self.check_final(run_id, checker)

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

    def check_final(self, run_id: str, checker: RunChecker) -> None:
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
        assert run_view(fresh) == self.engine.get(run_id)
        assert self.new_engine(LocalBroker()).get(run_id) == self.engine.get(run_id)

    def check_hooks(self, state: RunState, checker: RunChecker) -> None:
        """SPEC §11.5: which hooks fire, and how often, for the run and each DAG task."""
        fired: Counter[tuple[str | None, str]] = Counter()
        starts: Counter[str] = Counter()
        suspends: Counter[str] = Counter()
        resumes: Counter[str] = Counter()
        for event in checker.events:
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
