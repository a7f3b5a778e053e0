"""Timers of a run (SPEC §10): what each one is for, and the id it has in the log."""

from __future__ import annotations

from typing import Literal, TypeAlias

from attrs import frozen

# The run's deadline, a leaf's deadline, the wait before a retry, a DAG's or loop's deadline.
TimerPurpose: TypeAlias = Literal["workflow", "task", "retry", "container"]

_WORKFLOW = "workflow"


@frozen
class TimerId:
    """A timer's id, as a record. Its text form (SPEC §10) is what ``TimerArmed`` and
    ``TimerFired`` carry: ``workflow``, ``task:<nodeId>:<retryCount>``, ``retry:<nodeId>:<k>``
    or ``container:<nodeId>``.

    ``retry_count`` is the node's retry count the timer belongs to: a task deadline is
    armed for the attempt running at that count, and the wait before retry ``k`` ends when
    the count is already ``k``. A timer whose count is not the node's any more is stale.
    """

    purpose: TimerPurpose
    node_id: str | None = None
    retry_count: int | None = None

    @classmethod
    def workflow(cls) -> TimerId:
        return cls("workflow")

    @classmethod
    def task(cls, node_id: str, retry_count: int) -> TimerId:
        return cls("task", node_id, retry_count)

    @classmethod
    def retry(cls, node_id: str, retry_count: int) -> TimerId:
        return cls("retry", node_id, retry_count)

    @classmethod
    def container(cls, node_id: str) -> TimerId:
        return cls("container", node_id)

    def format(self) -> str:
        if self.purpose == "workflow":
            return _WORKFLOW
        if self.purpose == "container":
            return f"container:{self.node_id}"
        return f"{self.purpose}:{self.node_id}:{self.retry_count}"

    @classmethod
    def parse(cls, text: str) -> TimerId | None:
        """The record of a timer id, or ``None`` for text no Aether writes. Node ids may
        hold a colon, so the retry count is taken from the end."""
        if text == _WORKFLOW:
            return cls.workflow()
        purpose, sep, rest = text.partition(":")
        if not sep or not rest:
            return None
        if purpose == "container":
            return cls.container(rest)
        if purpose not in ("task", "retry"):
            return None
        node_id, sep, count = rest.rpartition(":")
        if not sep or not node_id or not (count.isascii() and count.isdigit()):
            return None
        return cls.task(node_id, int(count)) if purpose == "task" else cls.retry(node_id, int(count))
