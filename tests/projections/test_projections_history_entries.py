"""History streaming: summaries, times, filters, and phase entries equal to the phase_history table."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from projection_support import (
    History,
    brute_force_transitions,
    example_histories,
    fill,
    history_named,
    states_by_version,
    template_ref_history,
)

from aether.events.catalog import EVENT_TYPES, CancelRequested, InputIgnored, TaskResultReported
from aether.events.times import format_ms
from aether.projections.history_entries import iter_history, oneline, summarize, summarized_types
from aether.reducers import run as run_reducer
from aether.store.base import NO_STREAM, StoredEvent
from aether.store.loading import read_run_events
from aether.store.memory import InMemoryEventLog
from aether.store.projector import Projector
from aether.store.sql_database import SqlDatabase

pytestmark = pytest.mark.spec("6.6")

NOT_IN_RUN_STREAMS = {
    "SubmissionKeyClaimed",
    "CronRegistered",
    "CronUpdated",
    "CronDeleted",
    "CronTicked",
    "CronRunFinished",
    "CronTickSkipped",
    "CronRunSubmitted",
    "CronRunReplaced",
    "RunPruned",
}


def logged(*histories: History) -> InMemoryEventLog:
    log = InMemoryEventLog()
    for history in histories:
        log.append(history.stream, list(history.events), NO_STREAM)
    return log


def test_summaries_of_a_retried_run_with_late_duplicate_reports() -> None:
    history = history_named("09-dag-retry+dup")
    lines = [entry.summary for entry in iter_history(read_run_events(logged(history), history.run_id))]
    assert len(lines) == len(history.events)
    assert lines[0] == "WorkflowSubmitted dag-retry as run 09-dag-retry+dup"
    for expected in (
        # A leaf created and dispatched by one decision, its start and its result are one
        # record each, and their summaries say what they carry (SPEC §6.6.1).
        "TaskDispatched main/flaky attempt 1 (initial), created (task flaky-task), 2 parameters",
        "TaskDispatched main/flaky attempt 2 (retry)",
        "InputsBound main/flaky: 2 parameters",
        "PhaseChanged main Ready -> Running",
        "PhaseChanged run Created -> Ready",
        "TaskStarted main/flaky#1 on worker-1 -> Running",
        "TaskResultReported main/flaky#3 code 0 -> Succeeded",
        "RetryScheduled main/flaky attempt 2 now (retry 1)",
        "NodeCompleted main Running -> Succeeded",
        "WorkflowCompleted Running -> Succeeded",
        "InputIgnored TaskResultReported main/flaky#3: duplicate (the attempt has a result already)",
        "InputIgnored TaskStarted main/flaky#1: stale-attempt (current attempt is 3)",
    ):
        assert expected in lines, expected
    assert any(line.startswith("TaskResultReported main/flaky#1 code 2 -> Failed: simulated failure") for line in lines)
    # A late duplicate changes nothing, so its record carries nothing.
    assert "TaskStarted main/flaky#1 on worker-1" in lines


def test_entries_carry_seq_type_kind_and_node() -> None:
    history = history_named("09-dag-retry+dup")
    entries = list(iter_history(read_run_events(logged(history), history.run_id)))
    assert [e.seq for e in entries] == list(range(1, len(history.events) + 1))
    assert [e.type for e in entries] == [e.type for e in history.events]
    assert {e.kind for e in entries if e.type in ("TaskStarted", "TaskResultReported", "WorkflowSubmitted")} == {
        "input"
    }
    assert {e.kind for e in entries if e.type in ("NodeCreated", "InputIgnored")} == {"decision"}
    assert {e.node_id for e in entries if e.type in ("WorkflowSubmitted", "WorkflowCompleted")} == {None}
    assert all(e.summary.startswith(e.type) for e in entries)


def test_every_run_event_type_has_a_summary() -> None:
    # Every type the run reducer accepts, so a new run event cannot go unsummarized.
    run_types = {cls.TYPE for cls in run_reducer._HANDLERS} | {"WorkflowSubmitted"}
    assert summarized_types() == run_types
    assert not run_types & NOT_IN_RUN_STREAMS and run_types < set(EVENT_TYPES)


def test_summaries_stay_on_one_line() -> None:
    text = summarize(CancelRequested("2026-03-01T10:00:00.000Z", "line one\nline two " + "x" * 300))
    assert "\n" not in text and text.startswith("CancelRequested line one line two") and len(text) < 140
    assert oneline("a\n\tb") == "a b"
    ignored = InputIgnored("TimerFired", "unknown-node", timer_id="task:x:0")
    assert summarize(ignored) == "InputIgnored TimerFired task:x:0: unknown-node"
    report = TaskResultReported("main/a", 2, "2026-03-01T10:00:00.000Z", code=3, message="boom")
    assert summarize(report) == "TaskResultReported main/a#2 code 3: boom"


def test_at_is_the_time_of_the_latest_input_so_far() -> None:
    for history in [*example_histories(), template_ref_history()]:
        states = states_by_version(history.decoded())
        log = logged(history)
        for entries in (
            iter_history(read_run_events(log, history.run_id)),
            iter_history(read_run_events(log, history.run_id), phases_only=True),
        ):
            for entry in entries:
                assert entry.at == format_ms(states[entry.seq - 1].now_ms)
    # Not vacuous: some example's clock moves (a task deadline fires a second in).
    timeout = history_named("12-task-timeout")
    assert len({e.at for e in iter_history(read_run_events(logged(timeout), timeout.run_id))}) > 1


def test_phase_entries_are_the_phase_history_rows(read_model_db: SqlDatabase) -> None:
    histories = [*example_histories(), template_ref_history()]
    log = InMemoryEventLog()
    fill(log, histories)
    db = read_model_db
    Projector(log, db).catch_up()
    for history in histories:
        rows = db.fetchall(
            "SELECT run_id, seq, at, node_id, from_phase, to_phase, message, event_type FROM phase_history "
            "WHERE run_id = ? ORDER BY seq, node_id",
            (history.run_id,),
        )
        entries = [
            (history.run_id, e.seq, e.at, e.node_id or "", e.from_phase, e.to_phase, e.message, e.type)
            for e in iter_history(read_run_events(log, history.run_id), phases_only=True)
        ]
        key = lambda r: (r[1], r[3])  # noqa: E731
        assert sorted(entries, key=key) == rows
        assert rows == brute_force_transitions(history.run_id, history.decoded())


def test_phase_entry_summaries() -> None:
    history = history_named("12-task-timeout")
    lines = [e.summary for e in iter_history(read_run_events(logged(history), history.run_id), phases_only=True)]
    assert lines[0] == "run (new) -> Created [WorkflowSubmitted]"
    assert "pipeline/prepare Created -> Ready [TaskDispatched]" in lines
    assert "pipeline/wait-external Suspended -> Timeout: task deadline exceeded [NodeCompleted]" in lines
    assert lines[-1] == "run Running -> Succeeded [WorkflowCompleted]"


def test_node_filter_keeps_the_node_and_its_subtree() -> None:
    history = history_named("12-task-timeout")
    log = logged(history)
    waiting = list(iter_history(read_run_events(log, history.run_id), node="pipeline/wait-external"))
    assert waiting and {e.node_id for e in waiting} == {"pipeline/wait-external"}
    # The task deadline timer names only its timer id; the filter knows its node.
    assert "TimerFired" in {e.type for e in waiting}
    subtree = list(iter_history(read_run_events(log, history.run_id), node="pipeline"))
    assert {e.node_id for e in subtree} == {
        "pipeline",
        "pipeline/prepare",
        "pipeline/wait-external",
        "pipeline/finalize",
    }
    assert not any(e.type == "WorkflowCompleted" for e in subtree)
    assert list(iter_history(read_run_events(log, history.run_id), node="pipe")) == []  # a path, not a text prefix
    phases = list(iter_history(read_run_events(log, history.run_id), phases_only=True, node="pipeline/finalize"))
    assert [(e.from_phase, e.to_phase) for e in phases] == [
        (None, "Created"),
        ("Created", "Ready"),
        ("Ready", "Running"),
        ("Running", "Succeeded"),
    ]


def test_unknown_run_has_no_history() -> None:
    assert list(iter_history(read_run_events(InMemoryEventLog(), "nope"))) == []


class CountingLog(InMemoryEventLog):
    """A log whose ``read`` hands out events one by one and counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.handed_out = 0

    def read(self, stream: str, from_version: int = 1, to_version: int | None = None) -> Iterator[StoredEvent]:
        for event in super().read(stream, from_version, to_version):
            self.handed_out += 1
            yield event


def test_history_is_streamed_not_loaded_first() -> None:
    history = history_named("07-loop-aggregate")
    log = CountingLog()
    log.append(history.stream, list(history.events), NO_STREAM)
    entries = iter_history(read_run_events(log, history.run_id))
    first = next(entries)
    assert first.seq == 1 and log.handed_out == 1
    next(entries)
    assert log.handed_out == 2
    phases = iter_history(read_run_events(log, history.run_id), phases_only=True)
    log.handed_out = 0
    next(phases)
    assert log.handed_out == 1
