"""Recovery re-issues what a run's recorded events still owe in the order they were
recorded: a restarted engine hands out assignments of equal priority in dispatch order
(SPEC §15: priority, then dispatch order), as a live engine does."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.deaths import declare_dead
from support.documents import dag, echo_task, workflow

from aether.runtime.engine import Engine
from aether.runtime.setup import sqlite_engine
from aether.store.memory import InMemoryEventLog

pytestmark = pytest.mark.spec("15")

NAMES = ["d", "a", "c", "b", "f", "e"]  # not sorted: the order must come from dispatching


def _handed_out(engine: Engine, count: int) -> list[str]:
    fetched = [engine.broker.fetch("worker", None, 0) for _ in range(count)]
    return [assignment.node_id for assignment in fetched if assignment is not None]


def test_a_restarted_engine_hands_out_open_dispatches_in_dispatch_order() -> None:
    document = workflow("order", dag("main", *(echo_task(name) for name in NAMES)))
    log = InMemoryEventLog()
    live = Engine(log, workers=0)
    live.submit(document)
    dispatched = _handed_out(live, len(NAMES))
    assert dispatched == [f"main/{name}" for name in NAMES]

    declare_dead(live)
    restarted = Engine(log, workers=0)
    assert restarted.recover() == 1
    assert _handed_out(restarted, len(NAMES)) == dispatched


MANY = [f"t{(i * 7) % 23:02d}" for i in range(23)]  # more than a snapshot's worth, not sorted


@pytest.mark.parametrize("snapshot_every", [1, 5, 10_000])
def test_on_sqlite_from_a_snapshot_too(tmp_path: Path, snapshot_every: int) -> None:
    """The restarted engine loads the run from its newest snapshot (every event, every five,
    or none yet) plus the tail; the order of the open dispatches survives the snapshot."""
    document = workflow("order", dag("main", *(echo_task(name) for name in MANY)))
    db = tmp_path / "aether.db"
    live = sqlite_engine(db, workers=0, snapshot_every=snapshot_every)
    live.submit(document)
    dispatched = _handed_out(live, len(MANY))
    assert dispatched == [f"main/{name}" for name in MANY]
    live.catch_up_projections()
    if snapshot_every < 10_000:
        assert live.snapshots is not None and live.snapshots.latest(next(live.log.streams("run:"))) is not None
    declare_dead(live)

    restarted = sqlite_engine(db, workers=0, snapshot_every=snapshot_every)
    assert restarted.recover() == 1
    assert _handed_out(restarted, len(MANY)) == dispatched
