"""Facts about a run that ``aether get`` prints beside its view: its workflow deadline and
how it came into this log. Read from the log, not the read models, which do not keep them."""

from __future__ import annotations

from collections.abc import Iterable

from attrs import frozen

from aether.events.catalog import INPUT, Event, TimerArmed, WorkflowSubmitted
from aether.events.timers import TimerId


@frozen
class Deadline:
    timeout: str  # spec.timeout as recorded (defaults applied): "1h" unless the document says otherwise
    due_at: str | None  # when the run times out (SPEC §10.1); None: the run has no deadline

    def describe(self) -> str:
        if self.due_at is None:
            return f"deadline none (spec.timeout {self.timeout or 'absent'})"
        return f"deadline {self.due_at} (spec.timeout {self.timeout}, counted from submit)"


def workflow_deadline(events: Iterable[tuple[int, Event]]) -> Deadline | None:
    """The deadline armed when the run was submitted: the decision for the first event.
    Reads only the events up to the second input. None for a stream that is not a run."""
    timeout: str | None = None
    workflow_timer = TimerId.workflow().format()
    for _seq, event in events:
        if timeout is None:
            if not isinstance(event, WorkflowSubmitted):
                return None
            spec = event.document.get("spec")
            value = spec.get("timeout") if isinstance(spec, dict) else None
            timeout = value if isinstance(value, str) else ""
        elif event.KIND == INPUT:
            break
        elif isinstance(event, TimerArmed) and event.timer_id == workflow_timer:
            return Deadline(timeout, event.due_at)
    return None if timeout is None else Deadline(timeout, None)
