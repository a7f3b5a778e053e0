"""Assignments and worker reports as bytes, for a task queue kept in the database.

An engine and a worker on different machines meet only in the database (ARCHITECTURE
rule 9), so what one hands the other is written there: an assignment when it is
dispatched, a start, a result or a loss when a worker reports one. They are encoded as
compact JSON with the events' converter (camelCase keys, defaults omitted), so a worker
of a slightly different Aether version reads what it understands and ignores the rest.
"""

from __future__ import annotations

from typing import Literal

import orjson
from attrs import frozen

from aether.events.assignment import TaskAssignment, TaskResultReport, TaskStartReport
from aether.events.codec import CONVERTER

ReportKind = Literal["started", "result", "lost"]


@frozen
class TaskLostReport:
    """A worker gives back an attempt it claimed and will not finish (its process is
    stopping): the attempt's owner records it as lost and dispatches the next one."""

    assignment_id: str
    run_id: str
    node_id: str
    attempt: int
    worker_id: str
    member_id: str
    reason: str = "worker-stopped"


Report = TaskStartReport | TaskResultReport | TaskLostReport
_KINDS: dict[type, ReportKind] = {TaskStartReport: "started", TaskResultReport: "result", TaskLostReport: "lost"}
_TYPES: dict[str, type[Report]] = {kind: cls for cls, kind in _KINDS.items()}


class UnreadableWork(ValueError):
    """Bytes in the task queue that this Aether cannot read back into an assignment or report."""


def encode_assignment(assignment: TaskAssignment) -> bytes:
    return orjson.dumps(CONVERTER.unstructure(assignment))


def decode_assignment(data: bytes) -> TaskAssignment:
    try:
        assignment: TaskAssignment = CONVERTER.structure(orjson.loads(data), TaskAssignment)
    except Exception as exc:  # orjson and cattrs raise several types for bad input
        raise UnreadableWork(f"unreadable assignment: {exc}") from exc
    return assignment


def report_kind(report: Report) -> ReportKind:
    return _KINDS[type(report)]


def encode_report(report: Report) -> bytes:
    return orjson.dumps(CONVERTER.unstructure(report))


def decode_report(kind: str, data: bytes) -> Report:
    cls = _TYPES.get(kind)
    if cls is None:
        raise UnreadableWork(f"unknown report kind {kind!r}")
    try:
        report: Report = CONVERTER.structure(orjson.loads(data), cls)
    except Exception as exc:
        raise UnreadableWork(f"unreadable {kind} report: {exc}") from exc
    return report


__all__ = [
    "Report",
    "ReportKind",
    "TaskLostReport",
    "UnreadableWork",
    "decode_assignment",
    "decode_report",
    "encode_assignment",
    "encode_report",
    "report_kind",
]
