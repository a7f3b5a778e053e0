"""The run document (``aether.ui.run_data``) packed for the wire and the report file.

Measured on a 10,000-task run, the plain document is half events and half nodes, and
most of its bytes repeat: event types, phase names, attempt reasons, worker ids, the
node id at the head of most event summaries, keys repeated on every node and attempt,
and times written as 13-digit epoch milliseconds. Packed, each string is written once in
``strings`` and referred to by its place; the summary of an event about a node loses the
node's id (``HERE`` stands for it); times are milliseconds after ``baseMs``, and each
event's time the milliseconds after the previous event's; nodes and attempts are rows in
the order of ``NODE_COLUMNS`` and ``ATTEMPT_COLUMNS``; a node's creation event is the
first of its phase changes. ``unpack`` in run.js gives back the plain document.
"""

from __future__ import annotations

from aether.model.json_value import JSON

PACKED_FORMAT = 2
HERE = "\u0000"  # in a packed event summary: the id of the event's node
NODE_COLUMNS = (
    "id",
    "parent",
    "name",
    "template",
    "type",
    "index",
    "deps",
    "phases",
    "message",
    "inputs",
    "outputs",
    "retryCount",
    "attempts",
    "startedMs",
    "finishedMs",
    "logs",
)
ATTEMPT_COLUMNS = (
    "n",
    "reason",
    "worker",
    "dispatchedMs",
    "startedMs",
    "finishedMs",
    "phase",
    "code",
    "message",
    "seqs",
)
_STRINGS = frozenset({"template", "type", "message", "reason", "worker", "phase"})
_TIMES = frozenset({"dispatchedMs", "startedMs", "finishedMs"})


class _Packer:
    def __init__(self, base_ms: int | None) -> None:
        self.base_ms = base_ms or 0
        self.strings: list[str] = []
        self._places: dict[str, int] = {}

    def string(self, text: JSON) -> JSON:
        if not isinstance(text, str):
            return text
        place = self._places.get(text)
        if place is None:
            place = self._places[text] = len(self.strings)
            self.strings.append(text)
        return place

    def time(self, ms: JSON) -> JSON:
        return ms - self.base_ms if isinstance(ms, int) else ms

    def row(self, record: dict[str, JSON], columns: tuple[str, ...]) -> list[JSON]:
        row: list[JSON] = []
        for column in columns:
            value = record[column]
            if column in _STRINGS:
                value = self.string(value)
            elif column in _TIMES:
                value = self.time(value)
            row.append(value)
        return row


def pack(document: dict[str, JSON]) -> dict[str, JSON]:
    """``document`` (as ``RunDocument.whole`` gives it) packed; see the module docstring."""
    nodes = document["nodes"]
    events = document["events"]
    assert isinstance(nodes, list) and isinstance(events, list)
    times = [event[1] for event in events if isinstance(event, list) and isinstance(event[1], int)]
    packer = _Packer(min(times) if times else None)
    ids = [str(node["id"]) for node in nodes if isinstance(node, dict)]
    numbers = {node_id: number for number, node_id in enumerate(ids)}
    packed_events: list[JSON] = []
    previous = packer.base_ms
    for _seq, at, event_type, node, summary in events:
        if isinstance(node, int) and node >= 0 and isinstance(summary, str) and summary.startswith(ids[node]):
            summary = HERE + summary[len(ids[node]) :]
        step = at - previous if isinstance(at, int) else None
        previous = at if isinstance(at, int) else previous
        packed_events.extend((step, packer.string(event_type), node, packer.string(summary)))
    packed_nodes: list[JSON] = []
    for node in nodes:
        assert isinstance(node, dict)
        row = packer.row(node, NODE_COLUMNS)
        parent = node["parent"]
        row[1] = numbers.get(parent, -1) if isinstance(parent, str) else -1
        attempts = node["attempts"]
        row[12] = [packer.row(attempt, ATTEMPT_COLUMNS) for attempt in attempts if isinstance(attempt, dict)]
        packed_nodes.append(row)
    return {
        "format": PACKED_FORMAT,
        "run": document["run"],
        "lastSeq": document["lastSeq"],
        "terminal": document["terminal"],
        "phaseNames": document["phaseNames"],
        "runPhases": document["runPhases"],
        "baseMs": packer.base_ms,
        "strings": packer.strings,
        "events": packed_events,
        "nodes": packed_nodes,
    }
