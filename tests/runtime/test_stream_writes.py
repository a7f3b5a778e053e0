"""Which events a stream processor wrote itself: asked by a reader of the log's tail, so
that events another writer appended are told apart even after a conflict folded them into
the processor's cache."""

from __future__ import annotations

import pytest
from support.documents import dag, echo_task, workflow

from aether.events import catalog as ev
from aether.events.streams import run_stream
from aether.runtime.engine import Engine, RequestRejected
from aether.store.memory import InMemoryEventLog

pytestmark = pytest.mark.spec("6.6")

DOCUMENT = workflow("w", dag("main", echo_task("a")))


def test_an_engine_tells_its_own_events_from_another_writers_after_a_conflict() -> None:
    log = InMemoryEventLog()
    owner = Engine(log, workers=0)
    run_id = owner.submit(DOCUMENT).run_id
    stream = run_stream(run_id)
    own_events = log.stream_version(stream)
    # A command appends a cancel; the owner's next append conflicts and reloads.
    Engine(log, workers=0, drives="none").cancel(run_id)
    foreign = log.stream_version(stream)
    with pytest.raises(RequestRejected):  # the run is cancelled: refused, and recorded as such
        owner.resume(run_id, "main/a", {})
    assert [owner.runs.wrote(stream, v) for v in range(1, own_events + 1)] == [True] * own_events
    assert [owner.runs.wrote(stream, v) for v in range(own_events + 1, foreign + 1)] == [False] * (foreign - own_events)
    assert owner.runs.wrote(stream, foreign + 1), "its own append after the conflict"
    assert not owner.runs.wrote(stream, foreign + 1), "an answer is given once, then let go"
    recorded = [event for _seq, event in owner.events(run_id)]
    assert isinstance(recorded[-1], ev.InputRejected)
