"""Time travel read from the view history equals refolding, for generated runs.

A generated run (``RecordedRun``: real engine, random worker order, outcomes, pauses,
timers, resumes and cancels) is copied into a SQLite log and projected with the view
history model on a small checkpoint interval and small pages, in batches of a drawn
size, with the projector restarted at a drawn position (a restarted projector does not
know which pages changed and must write them all). Then, for every event N:

- ``TimeTravel.view_at(N)`` equals the view of a log truncated after N events;
- ``--diff A B`` read from the history equals ``diff_views`` of the two full views;
- the event found for a time equals the longest prefix whose inputs happened by then.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aether.events.times import format_ms, parse_ms
from aether.history.time_travel import diff_views
from aether.projections.read_models import default_read_models
from aether.projections.view_history import ViewHistoryModel
from aether.runtime.engine import Engine
from aether.runtime.time_travel_queries import TimeTravel
from aether.store.base import NO_STREAM, PendingEvent
from aether.store.projector import Projector
from aether.store.sqlite import SqliteEventLog
from aether.store.view_history_reader import ViewHistoryReader
from tests.properties.test_time_travel_properties import RecordedRun, _last_by, documents, truncated

pytestmark = pytest.mark.spec("6.6")

JSON = Any


def _models(checkpoint_every: int, page_size: int) -> list[Any]:
    others = [m for m in default_read_models() if not isinstance(m, ViewHistoryModel)]
    return [*others, ViewHistoryModel(checkpoint_every=checkpoint_every, page_size=page_size)]


@settings(max_examples=min(settings().max_examples, 40))  # a SQLite file per example
@given(
    document=documents,
    rnd=st.randoms(use_true_random=False),
    data=st.data(),
    checkpoint_every=st.integers(1, 9),
    page_size=st.integers(1, 4),
    batch_size=st.integers(1, 50),
)
def test_the_view_history_at_every_n_is_the_view_of_the_log_truncated_after_n(
    document: dict[str, JSON],
    rnd: Any,
    data: st.DataObject,
    checkpoint_every: int,
    page_size: int,
    batch_size: int,
) -> None:
    run = RecordedRun(document, rnd)
    stored, events = run.stored(), run.events()
    restart_at = data.draw(st.integers(0, len(stored)), label="projector restarted after")
    with tempfile.TemporaryDirectory() as directory:
        db = Path(directory) / "aether.db"
        log = SqliteEventLog(db)
        pending = [PendingEvent(s.type, s.schema_version, s.data) for s in stored]
        log.append(run.stream, pending[:restart_at], NO_STREAM) if restart_at else None
        first = Projector(log, db, read_models=_models(checkpoint_every, page_size), batch_size=batch_size)
        first.catch_up()
        first.close()
        if restart_at < len(pending):
            log.append(run.stream, pending[restart_at:], restart_at)
        projector = Projector(log, db, read_models=_models(checkpoint_every, page_size), batch_size=batch_size)
        reader = ViewHistoryReader(db)
        engine = Engine(log, workers=0, projector=projector, view_history=reader)
        travel = TimeTravel(engine)
        try:
            views = {}
            for n in range(1, len(events) + 1):
                at = travel.view_at(run.run_id, n)
                assert at is not None
                views[n] = at.to_dict()
                assert views[n] == truncated(stored, n), f"event {n}"
            assert travel.view_at(run.run_id, 0) is None
            for a, b in data.draw(
                st.lists(st.tuples(st.sampled_from(sorted(views)), st.sampled_from(sorted(views))), max_size=5),
                label="diffs",
            ):
                assert travel.diff(run.run_id, a, b) == diff_views(views[a], views[b]), (a, b)
            times = sorted({parse_ms(e.at) for _s, e in events if e.KIND == "input"})  # type: ignore[attr-defined]
            for ms in {times[0] - 1, times[-1] + 1, *(t + d for t in times[:6] for d in (-1, 0, 1))}:
                assert travel.seq_at_time(run.run_id, format_ms(ms)) == _last_by(events, ms), format_ms(ms)
        finally:
            reader.close()
            projector.close()
            log.close()
