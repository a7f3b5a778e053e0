"""The determinism check (ARCHITECTURE rule 2): replay a run's recorded inputs through
``decide`` and compare every decision with the recorded one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from attrs import frozen

from aether.events.catalog import INPUT, Event
from aether.events.codec import to_payload
from aether.reducers.run import apply
from aether.reducers.state import RunState
from aether.scheduler.decide import decide


@frozen
class Mismatch:
    seq: int  # version of the first recorded event that differs (or where one is missing)
    expected: Event | None  # what decide produces today
    recorded: Event | None  # what the log holds
    input_seq: int  # the input whose decision differs

    def describe(self) -> str:
        def show(event: Event | None) -> str:
            return "nothing" if event is None else f"{event.TYPE} {to_payload(event)}"

        return (
            f"non-determinism at event {self.seq} (decision for input {self.input_seq}):\n"
            f"  expected: {show(self.expected)}\n"
            f"  recorded: {show(self.recorded)}"
        )


@frozen
class VerifyResult:
    events: int
    inputs: int
    mismatch: Mismatch | None

    @property
    def ok(self) -> bool:
        return self.mismatch is None


def _decisions(events: Iterator[tuple[int, Event]]) -> Iterator[tuple[int, Event, list[tuple[int, Event]]]]:
    """Group a stream into (input seq, input, [recorded decisions])."""
    current: tuple[int, Event] | None = None
    following: list[tuple[int, Event]] = []
    for seq, event in events:
        if event.KIND == INPUT:
            if current is not None:
                yield current[0], current[1], following
            current, following = (seq, event), []
        elif current is None:
            raise ValueError(f"event {seq} ({event.TYPE}) is a decision with no input before it")
        else:
            following.append((seq, event))
    if current is not None:
        yield current[0], current[1], following


def verify_run(events: Iterable[tuple[int, Event]]) -> VerifyResult:
    """``events`` are (seq, event) in stream order. Streams the history once."""
    state: RunState | None = None
    count = 0
    inputs = 0
    for input_seq, trigger, recorded in _decisions(iter(events)):
        inputs += 1
        count += 1 + len(recorded)
        decision = decide(state, trigger)
        expected = list(decision.events)
        for i in range(max(len(expected), len(recorded))):
            want = expected[i] if i < len(expected) else None
            got = recorded[i][1] if i < len(recorded) else None
            if want != got:
                seq = recorded[i][0] if i < len(recorded) else (recorded[-1][0] + 1 if recorded else input_seq + 1)
                return VerifyResult(count, inputs, Mismatch(seq, want, got, input_seq))
        state = decision.state
        if state is None:  # pragma: no cover - decide always returns a state
            state = apply(None, trigger)
    return VerifyResult(count, inputs, None)
