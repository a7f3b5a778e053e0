"""The ``EventLog`` contract (SPEC §15, aether/store/base.py), as test classes an adapter's
suite subclasses.

Aether's own suite collects them for every registered adapter (``tests/store``). Another
adapter's suite subclasses them and provides the factory fixtures itself::

    from aether.testing.adapters import EventLogFactory
    from aether.testing.contract import DurableEventLogContract, EventLogContract


    @pytest.fixture
    def event_log_factory(tmp_path):
        factory = EventLogFactory(PostgresAdapter(), tmp_path)
        yield factory
        factory.close_all()


    class TestPostgresLog(EventLogContract): ...


    class TestPostgresLogDurability(DurableEventLogContract):
        @pytest.fixture
        def durable_event_log_factory(self, event_log_factory):
            return event_log_factory

or registers the adapter (:func:`~aether.testing.adapters.register_adapter`) and loads
:mod:`aether.testing.fixtures`, which provides both fixtures for every registered adapter.
This module imports pytest: import it from tests only.
"""

from __future__ import annotations

import pytest

from aether.store.base import (
    ANY_VERSION,
    NO_STREAM,
    ConcurrencyConflict,
    EventLog,
    PendingEvent,
    StoredEvent,
    StoreError,
)
from aether.testing.adapters import EventLogFactory
from aether.testing.log_checks import assert_log_consistent, event, events, payload, read_everything


def snapshot(log: EventLog) -> tuple[list[StoredEvent], list[str], int]:
    return read_everything(log), list(log.streams()), log.last_position()


class EventLogContract:
    """What every event log promises. Needs an ``event_log_factory`` fixture."""

    @pytest.fixture
    def log(self, event_log_factory: EventLogFactory) -> EventLog:
        return event_log_factory.new()

    # -- append and read ----------------------------------------------------------------------

    def test_round_trip_keeps_every_field(self, event_log_factory: EventLogFactory) -> None:
        log = event_log_factory.new()
        event_log_factory.clock.now = 1234.5
        sent = [
            PendingEvent("WorkflowSubmitted", 3, b'{"doc": 1}'),
            PendingEvent("NodeCreated", 1, b"\x00\xff binary \xfe"),
            PendingEvent("PhaseChanged", 2, b""),
        ]
        assert log.append("run:1", sent, NO_STREAM) == 3
        stored = list(log.read("run:1"))
        assert [(e.type, e.schema_version, e.data) for e in stored] == [
            (p.type, p.schema_version, p.data) for p in sent
        ]
        assert all(isinstance(e.data, bytes) for e in stored)
        assert [e.stream for e in stored] == ["run:1"] * 3
        assert [e.version for e in stored] == [1, 2, 3]
        assert [e.recorded_at for e in stored] == [1234.5] * 3
        positions = [e.position for e in stored]
        assert positions == sorted(set(positions)) and positions[0] >= 1

    def test_versions_are_contiguous_across_appends(self, log: EventLog) -> None:
        version = NO_STREAM
        for size in (1, 4, 2, 7):
            version = log.append("s", events("s", size, start=version), version)
        assert version == 14
        stored = list(log.read("s"))
        assert [e.version for e in stored] == list(range(1, 15))
        assert [payload(e) for e in stored] == [("s", n) for n in range(14)]
        assert log.stream_version("s") == 14

    def test_recorded_at_is_the_commit_time_of_each_append(self, event_log_factory: EventLogFactory) -> None:
        log = event_log_factory.new()
        event_log_factory.clock.now = 10.0
        log.append("a", events("a", 2), NO_STREAM)
        event_log_factory.clock.now = 20.0
        log.append_batch([("a", [event("a", 2)], 2), ("b", [event("b")], NO_STREAM)])
        assert [e.recorded_at for e in read_everything(log)] == [10.0, 10.0, 20.0, 20.0]

    def test_positions_strictly_increase_across_streams_in_commit_order(self, log: EventLog) -> None:
        log.append("b", events("b", 2), NO_STREAM)
        log.append("a", events("a", 1), NO_STREAM)
        log.append("b", events("b", 1, start=2), 2)
        everything = assert_log_consistent(log)
        assert [(e.stream, e.version) for e in everything] == [("b", 1), ("b", 2), ("a", 1), ("b", 3)]

    def test_empty_append_writes_nothing_and_returns_the_current_version(self, log: EventLog) -> None:
        assert log.append("new", [], NO_STREAM) == 0
        assert list(log.streams()) == [] and log.last_position() == 0
        log.append("s", events("s", 2), NO_STREAM)
        before = snapshot(log)
        assert log.append("s", [], 2) == 2
        assert log.append("s", [], ANY_VERSION) == 2
        assert log.append_batch([("s", [], 2), ("t", [], NO_STREAM)]) == [2, 0]
        assert log.append_batch([]) == []
        assert snapshot(log) == before

    def test_empty_append_still_checks_the_expected_version(self, log: EventLog) -> None:
        log.append("s", events("s", 2), NO_STREAM)
        with pytest.raises(ConcurrencyConflict):
            log.append("s", [], 1)

    # -- optimistic concurrency ---------------------------------------------------------------

    def test_no_stream_on_an_existing_stream_conflicts_and_writes_nothing(self, log: EventLog) -> None:
        log.append("s", events("s", 2), NO_STREAM)
        before = snapshot(log)
        with pytest.raises(ConcurrencyConflict) as caught:
            log.append("s", [event("late")], NO_STREAM)
        assert (caught.value.stream, caught.value.expected, caught.value.actual) == ("s", 0, 2)
        assert snapshot(log) == before

    @pytest.mark.parametrize("expected", [1, 3, 99])
    def test_a_wrong_version_conflicts_and_writes_nothing(self, log: EventLog, expected: int) -> None:
        log.append("s", events("s", 2), NO_STREAM)
        log.append("other", events("o", 1), NO_STREAM)
        before = snapshot(log)
        with pytest.raises(ConcurrencyConflict) as caught:
            log.append("s", events("x", 3), expected)
        assert (caught.value.expected, caught.value.actual) == (expected, 2)
        assert snapshot(log) == before
        # Still writable at the right version afterwards.
        assert log.append("s", [event("s", 2)], 2) == 3

    def test_any_version_skips_the_check(self, log: EventLog) -> None:
        assert log.append("s", events("s", 2), ANY_VERSION) == 2
        assert log.append("s", [event("s", 2)], ANY_VERSION) == 3
        assert [e.version for e in log.read("s")] == [1, 2, 3]

    def test_expecting_an_existing_version_of_a_missing_stream_conflicts(self, log: EventLog) -> None:
        with pytest.raises(ConcurrencyConflict) as caught:
            log.append("ghost", [event("g")], 1)
        assert caught.value.actual == 0
        assert list(log.streams()) == []

    @pytest.mark.parametrize(
        ("stream", "evs", "expected"),
        [
            ("", [event("x")], NO_STREAM),
            ("s", [PendingEvent("T", 1, "text, not bytes")], NO_STREAM),  # type: ignore[arg-type]
            ("s", [event("x")], -2),
            ("s", [event("x")], True),
        ],
        ids=["empty-stream", "str-data", "below-any", "bool-version"],
    )
    def test_malformed_requests_are_refused_and_write_nothing(
        self, log: EventLog, stream: str, evs: list[PendingEvent], expected: int
    ) -> None:
        log.append("ok", [event("ok")], NO_STREAM)
        before = snapshot(log)
        with pytest.raises(ValueError):
            log.append_batch([("ok", [event("ok", 1)], 1), (stream, evs, expected)])
        assert snapshot(log) == before

    # -- append_batch ---------------------------------------------------------------------------

    def test_batch_returns_each_streams_new_version_in_request_order(self, log: EventLog) -> None:
        log.append("a", events("a", 2), NO_STREAM)
        result = log.append_batch(
            [
                ("b", events("b", 3), NO_STREAM),
                ("a", events("a", 1, start=2), 2),
                ("c", [event("c")], ANY_VERSION),
            ]
        )
        assert result == [3, 3, 1]
        everything = assert_log_consistent(log)
        written = [(e.stream, e.version) for e in everything[2:]]
        assert written == [("b", 1), ("b", 2), ("b", 3), ("a", 3), ("c", 1)]

    def test_a_conflict_in_the_third_request_leaves_the_first_two_unwritten(self, log: EventLog) -> None:
        log.append("c", events("c", 1), NO_STREAM)
        before = snapshot(log)
        with pytest.raises(ConcurrencyConflict) as caught:
            log.append_batch(
                [
                    ("a", events("a", 2), NO_STREAM),
                    ("b", events("b", 2), ANY_VERSION),
                    ("c", events("c", 2, start=1), NO_STREAM),  # c is at 1: conflict
                    ("d", events("d", 1), NO_STREAM),
                ]
            )
        assert caught.value.stream == "c"
        assert snapshot(log) == before
        assert log.stream_version("a") == 0 and log.stream_version("b") == 0

    def test_the_same_stream_twice_in_one_batch_counts_the_earlier_events(self, log: EventLog) -> None:
        result = log.append_batch(
            [("s", events("s", 2), NO_STREAM), ("t", [event("t")], NO_STREAM), ("s", events("s", 3, start=2), 2)]
        )
        assert result == [2, 1, 5]
        assert [payload(e) for e in log.read("s")] == [("s", n) for n in range(5)]
        assert [e.version for e in log.read("s")] == [1, 2, 3, 4, 5]
        unchecked = [("s", [event("s", 5)], ANY_VERSION), ("s", [event("s", 6)], ANY_VERSION)]
        assert log.append_batch(unchecked) == [6, 7]
        assert_log_consistent(log)

    def test_the_same_stream_twice_with_a_stale_second_version_writes_nothing(self, log: EventLog) -> None:
        before = snapshot(log)
        with pytest.raises(ConcurrencyConflict) as caught:
            # The second request still expects NO_STREAM, but the first one created the stream.
            log.append_batch([("s", events("s", 2), NO_STREAM), ("s", [event("s", 2)], NO_STREAM)])
        assert (caught.value.expected, caught.value.actual) == (0, 2)
        assert snapshot(log) == before

    # -- reading ---------------------------------------------------------------------------------

    def test_read_bounds(self, log: EventLog) -> None:
        log.append("s", events("s", 10), NO_STREAM)

        def versions(from_version: int = 1, to_version: int | None = None) -> list[int]:
            return [e.version for e in log.read("s", from_version, to_version)]

        assert versions() == list(range(1, 11))
        assert versions(4) == list(range(4, 11))
        assert versions(4, 6) == [4, 5, 6]
        assert versions(to_version=3) == [1, 2, 3]
        assert versions(7, 7) == [7]
        assert versions(8, 100) == [8, 9, 10]
        assert versions(0, 2) == [1, 2]
        assert versions(11) == []
        assert versions(6, 5) == []
        assert list(log.read("missing")) == []

    def test_read_of_a_long_stream_crosses_page_boundaries(self, log: EventLog) -> None:
        version = NO_STREAM
        for chunk in range(5):
            version = log.append("long", events("l", 500, start=chunk * 500), version)
        stored = list(log.read("long"))
        assert [payload(e)[1] for e in stored] == list(range(2500))
        assert [e.version for e in log.read("long", 999, 2001)] == list(range(999, 2002))

    def test_read_does_not_include_events_appended_while_iterating(self, log: EventLog) -> None:
        log.append("s", events("s", 3), NO_STREAM)
        reader = log.read("s")
        first = next(reader)
        log.append("s", events("s", 2, start=3), 3)
        assert [first.version, *(e.version for e in reader)] == [1, 2, 3]

    def test_read_all_is_in_position_order_and_pages(self, log: EventLog) -> None:
        for i in range(30):
            stream = f"s{i % 4}"
            log.append(stream, [event(stream, i)], ANY_VERSION)
        everything = log.read_all(limit=1000)
        assert len(everything) == 30
        assert [payload(e)[1] for e in everything] == list(range(30))
        pages = [log.read_all(after_position=0, limit=7)]
        while pages[-1]:
            pages.append(log.read_all(after_position=pages[-1][-1].position, limit=7))
        assert [len(p) for p in pages] == [7, 7, 7, 7, 2, 0]
        assert [e for p in pages for e in p] == everything
        middle = everything[11].position
        assert log.read_all(after_position=middle, limit=3) == everything[12:15]
        assert log.read_all(after_position=everything[-1].position) == []
        assert log.read_all(limit=0) == []
        with pytest.raises(ValueError):
            log.read_all(limit=-1)

    def test_read_all_default_limit_is_1000(self, log: EventLog) -> None:
        log.append("s", events("s", 1100), NO_STREAM)
        assert len(log.read_all()) == 1000

    def test_streams_are_sorted_and_filtered_by_prefix(self, log: EventLog) -> None:
        names = ["run:10", "cron:default/nightly", "run:2", "run:1", "ru", "run:1/x", "é-run", "Run:3", "run;"]
        for name in names:
            log.append(name, [event(name)], NO_STREAM)
        assert list(log.streams()) == sorted(names)
        assert list(log.streams("run:")) == ["run:1", "run:1/x", "run:10", "run:2"]
        assert list(log.streams("run:1")) == ["run:1", "run:1/x", "run:10"]
        assert list(log.streams("run")) == ["run:1", "run:1/x", "run:10", "run:2", "run;"]
        assert list(log.streams("cron:")) == ["cron:default/nightly"]
        assert list(log.streams("é")) == ["é-run"]
        assert list(log.streams("zzz")) == []
        assert list(log.streams("run:1/x/deeper")) == []

    def test_streams_pages_through_many_names(self, log: EventLog) -> None:
        names = [f"run:{i:05d}" for i in range(2300)]
        log.append_batch([(name, [event(name)], NO_STREAM) for name in reversed(names)])
        log.append("other", [event("o")], NO_STREAM)
        assert list(log.streams("run:")) == names
        assert list(log.streams("run:01")) == names[1000:2000]

    def test_last_position(self, log: EventLog) -> None:
        assert log.last_position() == 0
        log.append("a", events("a", 3), NO_STREAM)
        after_first = log.last_position()
        assert after_first == list(log.read("a"))[-1].position
        log.append_batch([("b", events("b", 2), NO_STREAM), ("a", [event("a", 3)], 3)])
        assert log.last_position() == list(log.read("a"))[-1].position > after_first
        with pytest.raises(ConcurrencyConflict):
            log.append("a", [event("a")], NO_STREAM)
        assert log.last_position() == list(log.read("a"))[-1].position

    # -- lifecycle -------------------------------------------------------------------------------

    def test_a_closed_log_refuses_every_call(self, log: EventLog) -> None:
        log.append("s", [event("s")], NO_STREAM)
        log.close()
        log.close()  # idempotent
        calls = [
            lambda: log.append("s", [event("s")], ANY_VERSION),
            lambda: log.append_batch([("s", [event("s")], ANY_VERSION)]),
            lambda: log.read("s"),
            lambda: log.read_all(),
            lambda: log.stream_version("s"),
            lambda: log.streams(),
            lambda: log.last_position(),
        ]
        for call in calls:
            with pytest.raises(StoreError):
                call()

    def test_the_log_satisfies_the_protocol(self, log: EventLog) -> None:
        assert isinstance(log, EventLog)


class DurableEventLogContract:
    """What a durable event log promises besides: a committed event outlives the log object.
    Needs a ``durable_event_log_factory`` fixture."""

    def test_reopening_sees_everything_committed(self, durable_event_log_factory: EventLogFactory) -> None:
        factory = durable_event_log_factory
        log = factory.new()
        log.append("a", events("a", 3), NO_STREAM)
        log.append_batch([("b", events("b", 2), NO_STREAM), ("a", [event("a", 3)], 3)])
        with pytest.raises(ConcurrencyConflict):
            log.append("b", [event("never")], NO_STREAM)
        before = snapshot(log)
        reopened = factory.reopen(log)
        assert snapshot(reopened) == before
        assert reopened.append("b", [event("b", 2)], 2) == 3
        assert reopened.last_position() > before[2]
        assert_log_consistent(reopened)
