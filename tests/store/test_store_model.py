"""Random sequences of appends and batches (with right, stale, early and unchecked expected
versions) against a plain model of the contract, on every adapter."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aether.store import ANY_VERSION, NO_STREAM, ConcurrencyConflict, EventLog
from aether.testing.adapters import EventLogFactory
from aether.testing.log_checks import event, payload, read_everything

pytestmark = pytest.mark.spec("15")

STREAMS = ["a", "b", "run:1", "run:10", "run:2"]
# How a request picks its expected version from the stream's committed version v.
EXPECTATIONS = ["exact", "any", "no_stream", "behind", "ahead"]

Request = tuple[str, int, str]  # stream, number of events, expectation


@dataclass
class Model:
    """The contract, written as simply as possible: a list per stream and one global order."""

    streams: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    order: list[tuple[str, int]] = field(default_factory=list)  # (stream, version) by position
    counter: int = 0  # payload numbers, so every event is distinguishable

    def version(self, stream: str) -> int:
        return len(self.streams.get(stream, []))

    def expected(self, stream: str, how: str) -> int:
        v = self.version(stream)
        if how == "exact":
            return v
        if how == "any":
            return ANY_VERSION
        if how == "no_stream":
            return NO_STREAM
        if how == "behind" and v > 0:
            return v - 1
        return v + 1  # "ahead", and "behind" on a stream with nothing to be behind

    def apply(self, batch: list[tuple[str, list[tuple[str, int]], int]]) -> list[int] | None:
        """Return the new versions, or None (and change nothing) if the batch conflicts."""
        pending = {s: self.version(s) for s, _, _ in batch}
        for stream, evs, expected in batch:
            if expected != ANY_VERSION and expected != pending[stream]:
                return None
            pending[stream] += len(evs)
        result = []
        for stream, evs, _ in batch:
            history = self.streams.setdefault(stream, [])
            for ev in evs:
                history.append(ev)
                self.order.append((stream, len(history)))
            result.append(len(history))
        self.streams = {s: h for s, h in self.streams.items() if h}
        return result


requests = st.tuples(st.sampled_from(STREAMS), st.integers(0, 3), st.sampled_from(EXPECTATIONS))
operations = st.lists(
    st.one_of(
        requests.map(lambda r: ("append", [r])),
        st.lists(requests, max_size=4).map(lambda rs: ("batch", rs)),
    ),
    max_size=12,
)


def check_against(log: EventLog, model: Model) -> None:
    everything = read_everything(log, page=5)
    assert [(e.stream, e.version) for e in everything] == model.order
    positions = [e.position for e in everything]
    assert positions == sorted(set(positions))
    assert log.last_position() == (positions[-1] if positions else 0)
    assert list(log.streams()) == sorted(model.streams)
    assert list(log.streams("run:")) == sorted(s for s in model.streams if s.startswith("run:"))
    for stream in STREAMS:
        assert log.stream_version(stream) == model.version(stream)
        assert [payload(e) for e in log.read(stream)] == model.streams.get(stream, [])


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_random_appends_match_the_model(
    event_log_factory: EventLogFactory, ops: list[tuple[str, list[Request]]]
) -> None:
    log = event_log_factory.new()
    model = Model()
    try:
        for kind, reqs in ops:
            batch = []
            for stream, count, how in reqs:
                evs = [(stream, model.counter + i) for i in range(count)]
                model.counter += count
                batch.append((stream, evs, model.expected(stream, how)))
            store_batch = [(s, [event(tag, n) for tag, n in evs], exp) for s, evs, exp in batch]
            want = model.apply(batch)
            try:
                single = kind == "append"
                got = [log.append(*store_batch[0])] if single else log.append_batch(store_batch)
            except ConcurrencyConflict:
                assert want is None, "the store refused a batch the model accepts"
            else:
                assert got == want
            check_against(log, model)
    finally:
        log.close()
