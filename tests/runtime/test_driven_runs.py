"""Which runs an engine drives: every run in the log (``aether serve``), or only the runs
it submitted itself (``aether run FILE``), leaving the others to a serve."""

from __future__ import annotations

import pytest
from support.deaths import declare_dead
from support.documents import dag, echo_task, workflow

from aether.runtime.engine import Engine
from aether.store.memory import InMemoryEventLog

pytestmark = pytest.mark.spec("6.1")

DOCUMENT = workflow("two", dag("main", echo_task("a"), echo_task("b")))


def test_an_engine_of_submitted_runs_leaves_the_other_runs_alone() -> None:
    log = InMemoryEventLog()
    other = Engine(log, workers=0, drives="none").submit(DOCUMENT).run_id  # aether submit

    own_engine = Engine(log, workers=0, drives="submitted")
    assert own_engine.recover() == 0
    assert own_engine.broker.pending_count() == 0, "nothing of the other run is dispatched"
    own = own_engine.submit(DOCUMENT).run_id
    assert own_engine.broker.pending_count() == 2
    assert own_engine.active_runs() == [own]
    assert own_engine.drives_run(own) and not own_engine.drives_run(other)

    # A serve leases what no live engine holds: the other run, not the one still owned.
    serving = Engine(log, workers=0)
    assert serving.recover() == 1
    assert serving.active_runs() == [other]
    # Once the submitting engine's process is gone, the serve takes its run over too.
    declare_dead(own_engine)
    serving.housekeeping()
    assert sorted(serving.active_runs()) == sorted([own, other])
