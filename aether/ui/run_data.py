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

import orjson

from aether.events import catalog as ev
from aether.events.times import parse_ms
from aether.model.json_value import JSON
from aether.projections.history_entries import iter_history
from aether.reducers.state import TERMINAL_PHASES
from aether.runtime.queries import NoTaskLogs, QueryService
from aether.runtime.time_travel_queries import TimeTravel

PHASES = ("Created", "Ready", "Running", "Suspended", "Succeeded", "Failed", "Error", "Timeout", "Cancelled", "Skipped")
PHASE_INDEX = {phase: index for index, phase in enumerate(PHASES)}
RUN_KEY = ""  # the run's own phase changes, beside the nodes'

FORMAT = 1
# What a page shows of one stream of one node's output: the end, where a failure says why.
LOG_LIMIT = 64 * 1024


class _Recorder:
    """What the page needs from the events themselves, noted as they stream by once: each
    attempt (when and why it was dispatched, its start and its end, with the event numbers
    of each) and the submitted document's dependencies."""

    def __init__(self) -> None:
        self.attempts: dict[str, list[dict[str, JSON]]] = {}
        self.submitted: ev.WorkflowSubmitted | None = None
        self.now_ms: int | None = None  # the run's clock: the latest input's time

    def note(self, seq: int, event: ev.Event) -> None:
        at = getattr(event, "at", None)
        if event.KIND == ev.INPUT and isinstance(at, str):
            at_ms = parse_ms(at)
            self.now_ms = at_ms if self.now_ms is None else max(self.now_ms, at_ms)
        if isinstance(event, ev.WorkflowSubmitted):
            self.submitted = event
        elif isinstance(event, ev.TaskDispatched):
            self.attempts.setdefault(event.node_id, []).append(
                {
                    "n": event.attempt,
                    "reason": event.reason,
                    "worker": "",
                    "dispatchedMs": self.now_ms,
                    "startedMs": None,
                    "finishedMs": None,
                    "phase": None,
                    "code": None,
                    "message": "",
                    "seqs": [seq, None, None],
                }
            )
        elif isinstance(event, ev.TaskStarted):
            attempt = self._attempt(event.node_id, event.attempt)
            if attempt is not None and attempt["startedMs"] is None:
                attempt.update(startedMs=self.now_ms, worker=event.worker_id)
                attempt["seqs"][1] = seq
        elif isinstance(event, ev.TaskResultRecorded | ev.AttemptLost):
            attempt = self._attempt(event.node_id, event.attempt)
            if attempt is None or attempt["finishedMs"] is not None:
                return
            attempt["finishedMs"] = self.now_ms
            if attempt["startedMs"] is None:  # a result implies the start (SPEC §7.5)
                attempt["startedMs"] = self.now_ms
            if isinstance(event, ev.TaskResultRecorded):
                attempt.update(phase=event.phase, code=event.code, message=event.message)
            else:
                attempt["message"] = f"lost: {event.reason}"
            attempt["seqs"][2] = seq

    def _attempt(self, node_id: str, number: int) -> dict[str, JSON] | None:
        return next((a for a in reversed(self.attempts.get(node_id, [])) if a["n"] == number), None)

    def tap(self, events: Iterable[tuple[int, ev.Event]]) -> Iterator[tuple[int, ev.Event]]:
        for seq, event in events:
            self.note(seq, event)
            yield seq, event

    def dependencies(self) -> dict[str, dict[str, list[str]]]:
        """DAG template (as a node's ``templateName`` shows it) -> task name -> the names of
        the sibling tasks it waits for, from the recorded document and template snapshots."""
        found: dict[str, dict[str, list[str]]] = {}
        if self.submitted is None:
            return found
        spec = self.submitted.document.get("spec")
        scopes: list[tuple[str, JSON]] = [("", spec.get("templates") if isinstance(spec, dict) else None)]
        scopes += list(self.submitted.templates_snapshot.items())
        for scope, templates in scopes:
            for template in templates if isinstance(templates, list) else []:
                dag = template.get("dag") if isinstance(template, dict) else None
                if not isinstance(dag, dict):
                    continue
                name = f"{scope}/{dag.get('name')}" if scope else str(dag.get("name"))
                tasks = dag.get("tasks")
                found[name] = {
                    str(task.get("name")): [str(dep) for dep in task.get("dependencies") or []]
                    for task in (tasks if isinstance(tasks, list) else [])
                    if isinstance(task, dict)
                }
        return found


def _ms(text: JSON) -> int | None:
    return parse_ms(text) if isinstance(text, str) and text else None


def task_logs(
    queries: QueryService, run_id: str, node_id: str | None = None, until_ms: int | None = None
) -> dict[str, dict[str, str]]:
    """Node id -> stream (``stdout``, ``stderr``) -> what its attempts wrote (up to
    ``until_ms``), attempt after attempt, the last ``LOG_LIMIT`` characters of each; empty
    when the database keeps no task logs."""
    try:
        chunks = queries.task_log(run_id, node_id)
    except NoTaskLogs:
        return {}
    written: dict[str, dict[str, dict[int, bytearray]]] = {}
    for chunk in chunks:
        if chunk.stream == "message" or (until_ms is not None and chunk.at_ms > until_ms):
            continue
        by_attempt = written.setdefault(chunk.node_id, {}).setdefault(chunk.stream, {})
        by_attempt.setdefault(chunk.attempt, bytearray()).extend(chunk.data)
    logs: dict[str, dict[str, str]] = {}
    for node, streams in written.items():
        for stream, by_attempt in streams.items():
            several = len(by_attempt) > 1
            text = "".join(
                (f"--- attempt {attempt} ---\n" if several else "") + data.decode("utf-8", "replace")
                for attempt, data in sorted(by_attempt.items())
            )
            logs.setdefault(node, {})[stream] = text[-LOG_LIMIT:]
    return logs


def run_data(queries: QueryService, run_id: str, *, with_logs: bool = False) -> dict[str, JSON]:
    """The run's page document (see the module docstring); :class:`RunNotFound` for an
    unknown run. ``with_logs``: each node carries what its tasks wrote (the report has no
    server to ask).

    Nothing here folds the run: the nodes are the run's view at its last event (from the
    view history), the phase changes are the audit trail, and the attempts come from one
    pass over the events, the same pass that lists them."""
    last = queries.last_version(run_id)
    view = TimeTravel(queries.engine, queries).view_at(run_id, last)
    assert view is not None, "a run with events has a view"
    views = [orjson.loads(task) for task in view.tasks]
    node_numbers = {node["id"]: number for number, node in enumerate(views)}
    recorder = _Recorder()
    events: list[JSON] = []
    for entry in iter_history(recorder.tap(queries.engine.events(run_id, 1, last))):
        summary = entry.summary[len(entry.type) + 1 :] if entry.summary.startswith(entry.type) else entry.summary
        node_number = node_numbers.get(entry.node_id, -1) if entry.node_id is not None else -1
        events.append([entry.seq, parse_ms(entry.at) if entry.at else None, entry.type, node_number, summary])
    phases: dict[str, list[int]] = {}
    for change in queries.history(run_id, phases_only=True):
        if change.seq > last or change.to_phase is None:
            continue
        phases.setdefault(change.node_id or RUN_KEY, []).extend((change.seq, PHASE_INDEX[change.to_phase]))
    dependencies = recorder.dependencies()
    logs = task_logs(queries, run_id) if with_logs else {}
    templates = {node["id"]: node["templateName"] for node in views}
    nodes: list[JSON] = []
    for node in views:
        changes = phases.get(node["id"], [])
        parent = node["parentId"]
        waits_for = dependencies.get(templates.get(parent, ""), {}) if isinstance(parent, str) else {}
        nodes.append(
            {
                "id": node["id"],
                "parent": parent,
                "name": node["taskName"],
                "template": node["templateName"],
                "type": node["templateType"],
                "index": node["index"],
                "deps": waits_for.get(str(node["taskName"]), []) if node["index"] is None else [],
                "created": changes[0] if changes else 0,
                "phases": changes,
                "message": node["message"],
                "inputs": node["inputs"],
                "outputs": node["outputs"],
                "retryCount": node["retryCount"],
                "attempts": recorder.attempts.get(str(node["id"]), []),
                "startedMs": _ms(node["startedAt"]),
                "finishedMs": _ms(node["finishedAt"]),
                "logs": logs.get(str(node["id"])),
            }
        )
    return {
        "format": FORMAT,
        "run": view.header,
        "lastSeq": last,
        "terminal": view.header["phase"] in TERMINAL_PHASES,
        "phaseNames": list(PHASES),
        "runPhases": phases.get(RUN_KEY, []),
        "nodes": nodes,
        "events": events,
    }
