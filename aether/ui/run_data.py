"""What the run page and the report draw, as one JSON document per run.

The same shape feeds the live page (from ``/api/runs/<id>``) and the report (embedded in
the file, packed by ``aether.ui.packing``), so one front-end draws both. It is built for
the time slider: each node carries its phase changes as flat ``[seq, phase index, seq,
phase index, ...]`` lists (from the audit trail), and each attempt the event numbers at
which it was dispatched, started and finished, so the page finds the run as it stood
after any event without asking for one view per event. Nodes are listed in creation
order, which is also the order of their creating events: the nodes that exist after event
``s`` are a prefix.

A :class:`RunDocument` is kept up to date as the run goes on by reading only what was
appended since it last looked, and says what changed after a given event, so a live page
asks for that instead of the whole document again.
"""

from __future__ import annotations

import orjson

from aether.events import catalog as ev
from aether.events.times import parse_ms
from aether.model.json_value import JSON
from aether.projections.history_entries import summarize
from aether.reducers.state import TERMINAL_PHASES
from aether.runtime.queries import NoTaskLogs, QueryService
from aether.runtime.time_travel_queries import TimeTravel

PHASES = ("Created", "Ready", "Running", "Suspended", "Succeeded", "Failed", "Error", "Timeout", "Cancelled", "Skipped")
PHASE_INDEX = {phase: index for index, phase in enumerate(PHASES)}

FORMAT = 1
# What a page shows of one stream of one node's output: the end, where a failure says why.
LOG_LIMIT = 64 * 1024


class _Recorder:
    """What the page needs from the events themselves, noted as they stream by once: each
    attempt (when and why it was dispatched, its start and its end, with the event numbers
    of each), the run's clock, the node each event is about, and the submitted document's
    dependencies. Attempts are read from what each event carries, not from a fixed
    sequence of events: a start is implied by a result, and a result ends the attempt
    whichever event records its phase."""

    def __init__(self) -> None:
        self.attempts: dict[str, list[dict[str, JSON]]] = {}
        self.submitted: ev.WorkflowSubmitted | None = None
        self.now_ms: int | None = None  # the run's clock: the latest input's time
        self._timer_nodes: dict[str, str | None] = {}  # a TimerFired names its timer, its arming the node

    def node_of(self, event: ev.Event) -> str | None:
        if isinstance(event, ev.TimerFired):
            return self._timer_nodes.get(event.timer_id)
        node_id = getattr(event, "node_id", None)
        return node_id if isinstance(node_id, str) else None

    def note(self, seq: int, event: ev.Event) -> None:
        at = getattr(event, "at", None)
        if event.KIND == ev.INPUT and isinstance(at, str):
            at_ms = parse_ms(at)
            self.now_ms = at_ms if self.now_ms is None else max(self.now_ms, at_ms)
        if isinstance(event, ev.WorkflowSubmitted):
            self.submitted = event
        elif isinstance(event, ev.TimerArmed):
            self._timer_nodes[event.timer_id] = event.node_id
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
        if isinstance(event, ev.TaskStarted):
            attempt = self._attempt(event.node_id, event.attempt)
            if attempt is not None and attempt["startedMs"] is None:
                attempt.update(startedMs=self.now_ms, worker=event.worker_id)
                attempt["seqs"][1] = seq
        if isinstance(event, ev.AttemptLost):
            self._finish(seq, event.node_id, event.attempt, None, f"lost: {event.reason}")
        elif (result := _recorded_result(event)) is not None:
            worker = getattr(event, "worker_id", "")
            self._finish(seq, getattr(event, "node_id", ""), getattr(event, "attempt", 0), result, "", worker)

    def _finish(
        self, seq: int, node_id: str, number: int, result: object | None, message: str, worker: str = ""
    ) -> None:
        attempt = self._attempt(node_id, number)
        if attempt is None or attempt["finishedMs"] is not None:
            return
        attempt["finishedMs"] = self.now_ms
        if attempt["startedMs"] is None:  # a result implies the start (SPEC §7.5)
            attempt.update(startedMs=self.now_ms, worker=attempt["worker"] or worker)
        if result is not None:
            phase, code = getattr(result, "phase", None), getattr(result, "code", None)
            attempt.update(phase=phase, code=code, message=getattr(result, "message", "") or "")
        else:
            attempt["message"] = message
        seqs = attempt["seqs"]
        assert isinstance(seqs, list)
        seqs[2] = seq

    def _attempt(self, node_id: str, number: int) -> dict[str, JSON] | None:
        return next((a for a in reversed(self.attempts.get(node_id, [])) if a["n"] == number), None)

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


def _recorded_result(event: ev.Event) -> object | None:
    """The recorded result (phase, code, message) an event carries, if any: a
    ``TaskResultRecorded`` is one, and a worker's report may carry the one decided for it."""
    if isinstance(event, ev.TaskResultRecorded):
        return event
    recorded = getattr(event, "recorded", None) if isinstance(event, ev.TaskResultReported) else None
    return recorded if getattr(recorded, "phase", None) else None


class RunDocument:
    """The page document of one run (see the module docstring), read once and then brought
    up to the run's last event by :meth:`advance`, which reads the run's view there and
    only the events and audit-trail entries recorded since."""

    def __init__(self, queries: QueryService, run_id: str, *, with_logs: bool = False) -> None:
        self.queries = queries
        self.run_id = run_id
        self.last = 0
        self.header: dict[str, JSON] = {}
        self.run_phases: list[int] = []
        self.nodes: list[dict[str, JSON]] = []
        self.events: list[JSON] = []
        self._numbers: dict[str, int] = {}  # node id -> its place in ``nodes``
        self._views: list[bytes] = []  # each node's view as last read
        self._changed: list[int] = []  # each node's last event that changed its document
        self._phases: dict[str, list[int]] = {}  # node id -> its phase changes read so far
        self._recorder = _Recorder()
        self._dependencies: dict[str, dict[str, list[str]]] | None = None
        self._logs = task_logs(queries, run_id) if with_logs else None
        self.advance()

    def advance(self) -> bool:
        """Reads what the run recorded since; False when there was nothing new."""
        last = self.queries.last_version(self.run_id)
        if last <= self.last:
            return False
        view = TimeTravel(self.queries.engine, self.queries).view_at(self.run_id, last)
        assert view is not None, "a run with events has a view"
        changed = self._changed_views(view.tasks)
        for seq, event in self.queries.engine.events(self.run_id, self.last + 1, last):
            self._recorder.note(seq, event)
            node_id = self._recorder.node_of(event)
            number = self._numbers.get(node_id, -1) if node_id is not None else -1
            if number >= 0:
                changed.add(number)
            summary = summarize(event)
            summary = summary[len(event.TYPE) + 1 :] if summary.startswith(event.TYPE + " ") else ""
            self.events.append([seq, self._recorder.now_ms, event.TYPE, number, summary])
        if self._dependencies is None:
            self._dependencies = self._recorder.dependencies()
        changed.update(self._read_phases(last))
        self.header, self.last = view.header, last
        for number in sorted(changed):
            node_id = str(self.nodes[number]["id"])
            self.nodes[number] = self._node(orjson.loads(self._views[number]), list(self._phases.get(node_id, [])))
            self._changed[number] = last
        return True

    def _changed_views(self, views: list[bytes]) -> set[int]:
        """The places of the nodes whose view differs from the one last read (new nodes
        included), each given a placeholder to fill."""
        changed: set[int] = set()
        for number, view in enumerate(views):
            if number < len(self._views):
                if self._views[number] != view:
                    self._views[number] = view
                    changed.add(number)
                continue
            node_id = str(orjson.loads(view)["id"])
            self._numbers[node_id] = number
            self._views.append(view)
            self._changed.append(0)
            self.nodes.append({"id": node_id})
            changed.add(number)
        return changed

    def _read_phases(self, last: int) -> set[int]:
        """Adds the audit trail's entries after the last event read, up to ``last``, to each
        node's (and the run's) phase changes; the places of the nodes that have new ones."""
        changed: set[int] = set()
        for change in self.queries.history(self.run_id, phases_only=True, after=self.last):
            if change.to_phase is None or change.seq > last:
                continue
            if change.node_id is None:
                self.run_phases.extend((change.seq, PHASE_INDEX[change.to_phase]))
                continue
            self._phases.setdefault(change.node_id, []).extend((change.seq, PHASE_INDEX[change.to_phase]))
            if (number := self._numbers.get(change.node_id)) is not None:
                changed.add(number)
        return changed

    def _node(self, node: dict[str, JSON], changes: list[int]) -> dict[str, JSON]:
        parent = node["parentId"]
        templates = self._dependencies or {}
        template = self.nodes[self._numbers[parent]].get("template", "") if isinstance(parent, str) else ""
        waits_for = templates.get(str(template), {})
        node_id = str(node["id"])
        return {
            "id": node_id,
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
            "attempts": list(self._recorder.attempts.get(node_id, [])),
            "startedMs": _ms(node["startedAt"]),
            "finishedMs": _ms(node["finishedAt"]),
            "logs": self._logs.get(node_id) if self._logs is not None else None,
        }

    def whole(self) -> dict[str, JSON]:
        """The document of the run as read so far."""
        return {
            "format": FORMAT,
            "run": self.header,
            "lastSeq": self.last,
            "terminal": self.header["phase"] in TERMINAL_PHASES,
            "phaseNames": list(PHASES),
            "runPhases": self.run_phases,
            "nodes": self.nodes,
            "events": self.events,
        }

    def since(self, seq: int) -> dict[str, JSON]:
        """What changed after event ``seq``: the run, the events after it, and the
        documents of the nodes they changed (each with its place in the node list)."""
        seq = max(0, min(seq, self.last))
        nodes: list[JSON] = [
            {**node, "number": number} for number, node in enumerate(self.nodes) if self._changed[number] > seq
        ]
        return {
            "format": FORMAT,
            "since": seq,
            "run": self.header,
            "lastSeq": self.last,
            "terminal": self.header["phase"] in TERMINAL_PHASES,
            "runPhases": self.run_phases,
            "nodes": nodes,
            "events": self.events[seq:],
        }


def run_data(queries: QueryService, run_id: str, *, with_logs: bool = False) -> dict[str, JSON]:
    """The run's page document (see the module docstring); :class:`RunNotFound` for an
    unknown run. ``with_logs``: each node carries what its tasks wrote (the report has no
    server to ask)."""
    return RunDocument(queries, run_id, with_logs=with_logs).whole()


def run_outline(queries: QueryService, run_id: str) -> dict[str, JSON]:
    """What the run page draws its graph from before the whole document is read: the run,
    its last event, and each node (a row of id, parent's place, name, template, type,
    index, the sibling tasks it waits for, and its phase index), in creation order. Read
    from the run's view and its first event alone, so it costs the same for a run of ten
    events as for one of a million."""
    last = queries.last_version(run_id)
    view = TimeTravel(queries.engine, queries).view_at(run_id, last)
    assert view is not None, "a run with events has a view"
    recorder = _Recorder()
    for seq, event in queries.engine.events(run_id, 1, 1):
        recorder.note(seq, event)
    dependencies = recorder.dependencies()
    numbers: dict[str, int] = {}
    templates: list[str] = []
    rows: list[JSON] = []
    for number, task in enumerate(view.tasks):
        node = orjson.loads(task)
        numbers[node["id"]] = number
        templates.append(str(node["templateName"]))
        parent = numbers.get(node["parentId"], -1) if isinstance(node["parentId"], str) else -1
        waits_for = dependencies.get(templates[parent], {}) if parent >= 0 and node["index"] is None else {}
        name, template, kind = node["taskName"], node["templateName"], node["templateType"]
        deps = waits_for.get(str(name), [])
        rows.append([node["id"], parent, name, template, kind, node["index"], deps, PHASE_INDEX[node["phase"]]])
    return {
        "run": view.header,
        "lastSeq": last,
        "terminal": view.header["phase"] in TERMINAL_PHASES,
        "phaseNames": list(PHASES),
        "nodes": rows,
    }
