"""Every edge of the SPEC §6.4 transition tables is taken by some history the tests fold.

The other properties check that no history takes an edge the tables do not list; this one
checks the converse, so that an edge no test reaches (and whose handling could therefore be
broken unnoticed) shows up. The histories:

- the ``replay/`` corpus, recorded from real runs;
- a fixed, seeded draw of the property-test histories (``decided_histories.histories``);
- scripted histories through the same driver, for edges the random inputs reach too rarely
  to count on in a small draw (a deadline before the start, during a suspension or a
  backoff; phaseConditions on the deadline's code 4).

A leaf's retry without delay from ``Ready`` leaves the phase ``Ready`` (§6.4 "phase
unchanged"): it is recorded as the edge ``Ready -> Ready`` when the attempt number moves on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from support.documents import dag, dag_task, executor, loop, parameters, task, workflow

from aether.events import catalog as ev
from aether.events.compaction import expand_all
from aether.history.transfer import parse_lines
from aether.reducers.run import apply
from aether.reducers.state import RunState
from aether.runtime.engine import Engine
from aether.store.history_import import import_history
from aether.store.memory import InMemoryEventLog
from tests.properties.decided_histories import Driver, History, histories
from tests.properties.generators import SPEC_CONTAINER_EDGES, SPEC_LEAF_EDGES, SPEC_RUN_EDGES

pytestmark = pytest.mark.spec("6.4")

JSON = Any
Edge = tuple[str, str, str]  # (leaf | container | run, from phase, to phase)

CORPUS = Path(__file__).resolve().parents[2] / "replay"
GENERATED_EXAMPLES = 50
SEED = 20260301

SPEC_EDGES: frozenset[Edge] = frozenset(
    {("leaf", a, b) for a, b in SPEC_LEAF_EDGES}
    | {("container", a, b) for a, b in SPEC_CONTAINER_EDGES}
    | {("run", a, b) for a, b in SPEC_RUN_EDGES}
)

# Edges of the tables that no history can take today, and why. Each must stay untaken: an
# edge that starts being taken leaves this list.
NOT_TAKEN_TODAY: dict[Edge, str] = {
    ("run", "Created", "Cancelled"): "the submission's decision dispatches a first leaf or ends the run, so no "
    "cancel finds the run Created",
    ("run", "Created", "Timeout"): "the workflow deadline is an input like any other; the submission's decision has "
    "already dispatched a first leaf (run Ready) or ended the run",
    ("container", "Created", "Cancelled"): "a container is created by the decision that dispatches its first leaf "
    "(Created -> Ready up the chain) or finishes it, so no cancel finds it Created",
    ("container", "Created", "Timeout"): "as for a cancel: no deadline, the workflow's or a container's own, finds a "
    "container still Created",
}


# --- recording the edges of a history --------------------------------------------------------


def edges_taken(events: Iterable[ev.Event]) -> set[Edge]:
    """Every (kind, from, to) phase change that folding ``events`` makes, a compact record
    (SPEC §6.6.1) step by step as the events it stands for."""
    taken: set[Edge] = set()
    before: RunState | None = None
    for event in expand_all(list(events)):
        after = apply(before, event)
        if before is not None:
            for node in after.nodes_in_order():
                old = before.get_node(node.node_id)
                if old is None:
                    continue  # created: not an edge of the tables
                kind = "leaf" if node.template_type == "task" else "container"
                if old.phase != node.phase:
                    taken.add((kind, old.phase, node.phase))
                elif kind == "leaf" and node.phase == "Ready" and node.attempt != old.attempt:
                    taken.add((kind, "Ready", "Ready"))
            if before.phase != after.phase:
                taken.add(("run", before.phase, after.phase))
        before = after
    return taken


def corpus_edges() -> set[Edge]:
    taken: set[Edge] = set()
    for history in sorted(CORPUS.glob("*.jsonl")):
        log = InMemoryEventLog()
        run_id = import_history(log, parse_lines(history.read_bytes().splitlines(), str(history)))
        taken |= edges_taken(event for _version, event in Engine(log, workers=0).events(run_id))
    return taken


def generated_edges() -> set[Edge]:
    taken: set[Edge] = set()

    @settings(
        max_examples=GENERATED_EXAMPLES,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(histories())
    def record(history: History) -> None:
        taken.update(edges_taken(history.events))

    record()
    return taken


# --- scripted histories ------------------------------------------------------------------------

Step = Callable[[Driver], None]


def result(code: int) -> Step:
    """The oldest open attempt reports ``code`` (1 suspends, 2 fails)."""

    def deliver(driver: Driver) -> None:
        assignment = driver.dispatched[driver.open.pop(0)]
        driver.step(ev.TaskResultReported(assignment.node_id, assignment.attempt, driver.at, code, "", ()))

    return deliver


def start(driver: Driver) -> None:
    """The oldest open attempt starts."""
    assignment = driver.dispatched[driver.open[0]]
    driver.step(ev.TaskStarted(assignment.node_id, assignment.attempt, driver.at, "w"))


def next_timer(driver: Driver) -> None:
    """The clock moves to the earliest armed timer, which fires."""
    timer_id = min(driver.timers, key=lambda t: driver.timers[t])
    due, _seq = driver.timers.pop(timer_id)
    driver.now = max(driver.now, due)
    driver.step(ev.TimerFired(timer_id, driver.at))


def cancel(driver: Driver) -> None:
    driver.step(ev.CancelRequested(driver.at))


def one_leaf(**template: JSON) -> dict[str, JSON]:
    """DAG ``main`` running task ``t`` (a 1 s deadline) once."""
    return workflow("w", dag("main", dag_task("a", "t")), task("t", executor("echo"), timeout="1s", **template))


def retried_leaf(**retry: JSON) -> dict[str, JSON]:
    """:func:`one_leaf`, retried once whatever the outcome."""
    retry = {"limit": 1, "expression": "true", **retry}
    return workflow("w", dag("main", dag_task("a", "t", retry=retry)), task("t", executor("echo"), timeout="1s"))


def backed_off_leaf(**spec: JSON) -> dict[str, JSON]:
    """A leaf retried after a one-minute backoff."""
    retry = {"limit": 1, "expression": "true", "backoff": {"duration": "1m"}}
    return workflow("w", dag("main", dag_task("a", "t", retry=retry)), task("t", executor("echo")), **spec)


def deadline_code_means(phase: str) -> dict[str, JSON]:
    return one_leaf(phaseConditions={phase: "code == 4"})


SCRIPTED: dict[str, tuple[dict[str, JSON], list[Step]]] = {
    **{
        f"deadline before the start gives {p}": (deadline_code_means(p), [next_timer])
        for p in ("succeeded", "failed", "error")
    },
    **{
        f"deadline while suspended gives {p}": (deadline_code_means(p), [result(1), next_timer])
        for p in ("succeeded", "failed", "error")
    },
    "deadline while suspended": (one_leaf(), [result(1), next_timer]),
    "deadline before the start, retried at once": (retried_leaf(), [next_timer]),
    "deadline before the start, retried after a backoff": (retried_leaf(backoff={"duration": "1s"}), [next_timer]),
    "deadline while suspended, retried after a backoff": (
        retried_leaf(backoff={"duration": "1s"}),
        [result(1), next_timer],
    ),
    "workflow deadline during a backoff": (backed_off_leaf(timeout="20s"), [result(2), next_timer]),
    "workflow deadline before the start": (
        workflow("w", dag("main", dag_task("a", "t")), task("t", executor("echo")), timeout="20s"),
        [next_timer],
    ),
    "cancel before the start": (workflow("w", dag("main", dag_task("a", "t")), task("t", executor("echo"))), [cancel]),
    "cancel while running": (one_leaf(), [start, cancel]),
    "cancel during a backoff": (backed_off_leaf(), [result(2), cancel]),
    "cancel while suspended": (one_leaf(), [result(1), cancel]),
    "a task without an executor": (workflow("w", dag("main", dag_task("a", "t")), task("t")), []),
    "a DAG failed by its phaseConditions before any leaf": (
        workflow("w", dag("main", dag_task("a", "t", when="false"), phaseConditions={"failed": "true"}), task("t")),
        [],
    ),
    "loop items that are not a list": (
        workflow(
            "w",
            loop("main", "t", inputs=parameters({"list": 5}), itemsFrom="{{inputs.parameters.list}}"),
            task("t", executor("echo")),
        ),
        [],
    ),
}


def scripted_edges() -> set[Edge]:
    taken: set[Edge] = set()
    for document, steps in SCRIPTED.values():
        driver = Driver(document)
        for step in steps:
            step(driver)
        taken |= edges_taken(driver.events)
    return taken


# --- the test ------------------------------------------------------------------------------------


def test_every_spec_edge_is_taken_by_some_history() -> None:
    assert set(NOT_TAKEN_TODAY) <= SPEC_EDGES, "NOT_TAKEN_TODAY lists an edge the tables do not have"
    taken = corpus_edges() | generated_edges() | scripted_edges()
    assert taken <= SPEC_EDGES, f"edges outside SPEC §6.4: {sorted(taken - SPEC_EDGES)}"
    never = SPEC_EDGES - taken - set(NOT_TAKEN_TODAY)
    assert not never, f"no history takes these SPEC §6.4 edges: {sorted(never)}"
    now_taken = taken & set(NOT_TAKEN_TODAY)
    assert not now_taken, f"taken now, so no longer 'not taken today': {sorted(now_taken)}"
