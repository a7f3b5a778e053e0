"""The determinism check (ARCHITECTURE rule 2): replay a run's recorded inputs through
``decide`` and compare every decision with the recorded one, in the compact form of
SPEC §6.6.1 (a history recorded before it is upcast decision by decision). A stream whose versions skip
one is reported as a gap at the missing version: the decisions after it are not wrong,
an event is missing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from attrs import frozen

from aether.events.catalog import INPUT, Event
from aether.events.codec import to_payload
from aether.events.compaction import compact_decision, plain_input
from aether.model.json_value import JSON
from aether.reducers.run import fold
from aether.reducers.state import RunState
from aether.scheduler.decide import decide, recordable_decision

NON_DETERMINISM = "non-determinism"
GAP = "gap"


@frozen
class Mismatch:
    seq: int  # version of the first recorded event that differs (or where one is missing)
    expected: Event | None  # what decide produces today
    recorded: Event | None  # what the log holds
    input_seq: int  # the input whose decision differs (for a gap: the next version the stream holds)
    kind: str = NON_DETERMINISM

    def describe(self) -> str:
        if self.kind == GAP:
            return (
                f"gap at event {self.seq}: the history has no event {self.seq} "
                f"(the next event it holds is {self.input_seq})"
            )

        def show(event: Event | None) -> str:
            return "nothing" if event is None else f"{event.TYPE} {to_payload(event)}"

        return (
            f"non-determinism at event {self.seq} (decision for input {self.input_seq}):\n"
            f"  expected: {show(self.expected)}\n"
            f"  recorded: {show(self.recorded)}"
        )

    def to_json(self) -> dict[str, JSON]:
        def shown(event: Event | None) -> JSON:
            return None if event is None else {"type": event.TYPE, "data": to_payload(event)}

        if self.kind == GAP:
            return {"kind": GAP, "seq": self.seq, "nextSeq": self.input_seq}
        return {
            "kind": NON_DETERMINISM,
            "seq": self.seq,
            "inputSeq": self.input_seq,
            "expected": shown(self.expected),
            "recorded": shown(self.recorded),
        }


@frozen
class VerifyResult:
    events: int
    inputs: int
    mismatch: Mismatch | None

    @property
    def ok(self) -> bool:
        return self.mismatch is None


class _Contiguous:
    """The events up to the first missing version; ``gap`` is then (missing, next held)."""

    def __init__(self, events: Iterable[tuple[int, Event]]) -> None:
        self._events = events
        self.gap: tuple[int, int] | None = None

    def __iter__(self) -> Iterator[tuple[int, Event]]:
        expected = 1
        for seq, event in self._events:
            if seq != expected:
                self.gap = (expected, seq)
                return
            yield seq, event
            expected += 1


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
    contiguous = _Contiguous(events)

    def gap_before(seq: int) -> Mismatch | None:
        # A decision group is yielded only once the event after it was read, so a gap
        # that cut the group short is known by the time its decisions are compared.
        if contiguous.gap is None or contiguous.gap[0] > seq:
            return None
        missing, following = contiguous.gap
        return Mismatch(missing, None, None, following, GAP)

    for input_seq, trigger, recorded in _decisions(iter(contiguous)):
        inputs += 1
        count += 1 + len(recorded)
        held = [trigger, *(event for _seq, event in recorded)]
        seqs = [input_seq, *(seq for seq, _event in recorded)]
        # A decision recorded before compact records is upcast to its compact form first;
        # its events no longer map one to one onto versions, so a difference in it is
        # reported at its input.
        upcast, _reordered = compact_decision(held[0], held[1:])
        if upcast != held:
            seqs = [input_seq] * len(upcast)
        plain = plain_input(trigger)
        decision = decide(state, plain)
        if upcast != list(decision.recorded):
            # What the engine records when decide's own events cannot be stored; checked
            # only on a difference, so verifying a healthy run encodes nothing.
            decision = recordable_decision(state, plain)
        expected = list(decision.recorded)
        for i in range(max(len(expected), len(upcast))):
            want = expected[i] if i < len(expected) else None
            got = upcast[i] if i < len(upcast) else None
            if want != got:
                seq = seqs[i] if i < len(seqs) else seqs[-1] + 1
                return VerifyResult(count, inputs, gap_before(seq) or Mismatch(seq, want, got, input_seq))
        # Fold what the log holds: a history recorded before compact records may order
        # its nodes differently, and later decisions must see the run as it was.
        state = decision.state if upcast == held else fold(held, state)
    if contiguous.gap is not None:
        return VerifyResult(count, inputs, gap_before(contiguous.gap[0]))
    return VerifyResult(count, inputs, None)
