"""What the run page and the report draw, as one JSON document per run.

The same shape feeds the live page (from ``/api/runs/<id>``) and the report (embedded in
the file), so one front-end draws both. It is built for the time slider: each node
carries its phase changes as flat ``[seq, phase index, seq, phase index, ...]`` lists
(from the audit trail), and each attempt the event numbers at which it was dispatched,
started and finished, so the page finds the run as it stood after any event without
asking for one view per event. Nodes are listed in creation order, which is also the
order of their creating events: the nodes that exist after event ``s`` are a prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from aether.events import catalog as ev
from aether.events.times import parse_ms
from aether.model.json_value import JSON
from aether.projections.history_entries import iter_history
from aether.projections.views import node_view, run_header
from aether.reducers.state import NodeState, RunState
from aether.runtime.queries import QueryService

PHASES = ("Created", "Ready", "Running", "Suspended", "Succeeded", "Failed", "Error", "Timeout", "Cancelled", "Skipped")
PHASE_INDEX = {phase: index for index, phase in enumerate(PHASES)}
RUN_KEY = ""  # the run's own phase changes, beside the nodes'

FORMAT = 1


class _AttemptSeqs:
    """Event numbers of each attempt's dispatch, start and end, noted as events stream by."""

    def __init__(self) -> None:
        self.by_attempt: dict[tuple[str, int], list[int | None]] = {}

    def note(self, seq: int, event: ev.Event) -> None:
        if isinstance(event, ev.TaskDispatched):
            self.by_attempt[(event.node_id, event.attempt)] = [seq, None, None]
        elif isinstance(event, ev.TaskStarted):
            self._set(event.node_id, event.attempt, 1, seq)
        elif isinstance(event, ev.TaskResultRecorded | ev.AttemptLost):
            self._set(event.node_id, event.attempt, 2, seq)

    def _set(self, node_id: str, attempt: int, slot: int, seq: int) -> None:
        found = self.by_attempt.get((node_id, attempt))
        if found is not None and found[slot] is None:
            found[slot] = seq

    def tap(self, events: Iterable[tuple[int, ev.Event]]) -> Iterator[tuple[int, ev.Event]]:
        for seq, event in events:
            self.note(seq, event)
            yield seq, event


def _dependencies(state: RunState, node: NodeState) -> list[str]:
    """The names of the sibling tasks ``node`` waits for (a task of a DAG), else none."""
    if node.parent_id is None or node.task_index is None:
        return []
    parent = state.node(node.parent_id)
    if parent.template_type != "dag" or parent.template_key is None:
        return []
    tasks = state.info.plan.dag(parent.template_key).tasks
    if node.task_index >= len(tasks):
        return []
    return list(tasks[node.task_index].dependencies or ())


def _attempts(node: NodeState, seqs: _AttemptSeqs) -> list[JSON]:
    rows: list[JSON] = []
    for attempt in node.attempts:
        dispatched, started, finished = seqs.by_attempt.get((node.node_id, attempt.number), [None, None, None])
        rows.append(
            {
                "n": attempt.number,
                "reason": attempt.reason,
                "worker": attempt.worker_id,
                "dispatchedMs": attempt.dispatched_ms,
                "startedMs": attempt.started_ms,
                "finishedMs": attempt.finished_ms,
                "phase": attempt.phase,
                "code": attempt.code,
                "message": attempt.message,
                "seqs": [dispatched, started, finished],
            }
        )
    return rows


def run_data(queries: QueryService, run_id: str) -> dict[str, JSON]:
    """The run's page document (see the module docstring); :class:`RunNotFound` for an
    unknown run."""
    last = queries.last_version(run_id)
    # Folded from the log to that version: another process may be driving the run, and
    # an engine's cached state of a run it does not drive can lag.
    state = queries.engine.state_at(run_id, last)
    seqs = _AttemptSeqs()
    events: list[JSON] = []
    node_numbers = {node.node_id: number for number, node in enumerate(state.nodes_in_order())}
    for entry in iter_history(seqs.tap(queries.engine.events(run_id, 1, last))):
        summary = entry.summary[len(entry.type) + 1 :] if entry.summary.startswith(entry.type) else entry.summary
        node_number = node_numbers.get(entry.node_id, -1) if entry.node_id is not None else -1
        events.append([entry.seq, parse_ms(entry.at) if entry.at else None, entry.type, node_number, summary])
    phases: dict[str, list[int]] = {}
    for change in queries.history(run_id, phases_only=True):
        if change.seq > last or change.to_phase is None:
            continue
        phases.setdefault(change.node_id or RUN_KEY, []).extend((change.seq, PHASE_INDEX[change.to_phase]))
    nodes: list[JSON] = []
    for node in state.nodes_in_order():
        view = node_view(node)
        changes = phases.get(node.node_id, [])
        nodes.append(
            {
                "id": node.node_id,
                "parent": node.parent_id,
                "name": node.task_name,
                "template": node.template_name,
                "type": node.template_type,
                "index": node.index,
                "deps": _dependencies(state, node),
                "created": changes[0] if changes else 0,
                "phases": changes,
                "message": node.message,
                "inputs": view["inputs"],
                "outputs": view["outputs"],
                "retryCount": node.retry_count,
                "attempts": _attempts(node, seqs),
                "startedMs": node.started_ms,
                "finishedMs": node.finished_ms,
            }
        )
    return {
        "format": FORMAT,
        "run": run_header(state),
        "lastSeq": last,
        "terminal": state.terminal,
        "phaseNames": list(PHASES),
        "runPhases": phases.get(RUN_KEY, []),
        "nodes": nodes,
        "events": events,
    }
