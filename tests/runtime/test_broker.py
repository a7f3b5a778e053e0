"""The in-process task broker (SPEC §15 ``TaskBroker``)."""

from __future__ import annotations

import threading
import time

import pytest

from aether.events.assignment import TaskAssignment, TaskResultReport, TaskStartReport
from aether.runtime.broker import LocalBroker, TaskBroker

pytestmark = pytest.mark.spec("15")

WAIT = 20.0


def task(node: str, priority: int = 500, executor_type: str = "echo", attempt: int = 1) -> TaskAssignment:
    return TaskAssignment(
        id=TaskAssignment.attempt_id("r1", node, attempt),
        run_id="r1",
        node_id=node,
        attempt=attempt,
        retry_count=0,
        workflow_name="wf",
        namespace="default",
        task_name=node,
        template_name="",
        executor_type=executor_type,
        priority=priority,
    )


def drain(broker: LocalBroker, executor_types: list[str] | None = None) -> list[str]:
    nodes = []
    while (a := broker.fetch("w", executor_types, 0)) is not None:
        nodes.append(a.node_id)
    return nodes


def started(node: str) -> TaskStartReport:
    return TaskStartReport(f"r1:{node}#1", "r1", node, 1, "w")


def finished(node: str, code: int = 0) -> TaskResultReport:
    return TaskResultReport(f"r1:{node}#1", "r1", node, 1, "w", code=code)


def test_is_a_task_broker() -> None:
    broker: TaskBroker = LocalBroker()
    assert broker is not None


# --- ordering -----------------------------------------------------------------


def test_higher_priority_first_then_dispatch_order() -> None:
    broker = LocalBroker()
    for node, priority in [("a", 500), ("b", 900), ("c", 500), ("d", 100), ("e", 900)]:
        broker.dispatch(task(node, priority))
    assert drain(broker) == ["b", "e", "a", "c", "d"]


def test_priority_order_holds_across_executor_types() -> None:
    broker = LocalBroker()
    broker.dispatch(task("a", 100, "shell"))
    broker.dispatch(task("b", 200, "echo"))
    broker.dispatch(task("c", 300, "http"))
    broker.dispatch(task("d", 300, "echo"))
    assert drain(broker) == ["c", "d", "b", "a"]


def test_fifo_ignores_priority() -> None:
    broker = LocalBroker(order="fifo")
    for node, priority in [("a", 1), ("b", 900), ("c", 500)]:
        broker.dispatch(task(node, priority))
    assert drain(broker) == ["a", "b", "c"]


def test_lifo_takes_the_most_recent_first() -> None:
    broker = LocalBroker(order="lifo")
    for node, priority in [("a", 1), ("b", 900), ("c", 500)]:
        broker.dispatch(task(node, priority))
    assert drain(broker) == ["c", "b", "a"]


def test_unknown_order_is_rejected() -> None:
    with pytest.raises(ValueError):
        LocalBroker(order="random")  # type: ignore[arg-type]


def test_fetch_by_executor_type() -> None:
    broker = LocalBroker()
    broker.dispatch(task("s1", 900, "shell"))
    broker.dispatch(task("e1", 100, "echo"))
    broker.dispatch(task("h1", 500, "http"))
    broker.dispatch(task("e2", 800, "echo"))
    assert drain(broker, ["echo", "http"]) == ["e2", "h1", "e1"]
    assert drain(broker, ["python"]) == []
    assert broker.pending_count() == 1
    assert drain(broker) == ["s1"]


# --- idempotency and cancel ------------------------------------------------------


def test_dispatch_is_idempotent_by_id() -> None:
    broker = LocalBroker()
    broker.dispatch(task("a"))
    broker.dispatch(task("a", priority=999))
    assert broker.pending_count() == 1
    assert drain(broker) == ["a"]
    broker.dispatch(task("a"))  # already fetched and running: still the same attempt
    assert broker.pending_count() == 0


def test_another_attempt_is_another_assignment() -> None:
    broker = LocalBroker()
    broker.dispatch(task("a", attempt=1))
    broker.dispatch(task("a", attempt=2))
    assert broker.pending_count() == 2


def test_cancel_drops_an_unfetched_assignment() -> None:
    broker = LocalBroker()
    broker.dispatch(task("a"))
    broker.dispatch(task("b"))
    broker.cancel("r1:a#1")
    broker.cancel("r1:a#1")
    assert broker.pending_count() == 1
    assert broker.is_cancelled("r1:a#1")
    assert drain(broker) == ["b"]
    broker.dispatch(task("a"))  # a late duplicate of a cancelled dispatch stays dropped
    assert drain(broker) == []


def test_cancel_before_dispatch_drops_the_dispatch() -> None:
    broker = LocalBroker()
    broker.cancel("r1:a#1")
    broker.dispatch(task("a"))
    assert broker.pending_count() == 0


def test_cancel_of_a_fetched_assignment_raises_its_flag() -> None:
    broker = LocalBroker()
    broker.dispatch(task("a"))
    assert drain(broker) == ["a"]
    assert not broker.is_cancelled("r1:a#1")
    broker.cancel("r1:a#1")
    assert broker.is_cancelled("r1:a#1")
    assert not broker.is_cancelled("r1:b#1")


# --- blocking ------------------------------------------------------------------


def test_fetch_times_out_with_none() -> None:
    broker = LocalBroker()
    started_at = time.monotonic()
    assert broker.fetch("w", None, 0.2) is None
    assert time.monotonic() - started_at >= 0.2


def test_blocked_fetch_wakes_on_dispatch() -> None:
    broker = LocalBroker()
    got: list[TaskAssignment | None] = []
    fetcher = threading.Thread(target=lambda: got.append(broker.fetch("w", ["echo"], WAIT)))
    fetcher.start()
    time.sleep(0.05)
    broker.dispatch(task("other", executor_type="shell"))  # not for this fetcher
    broker.dispatch(task("a"))
    fetcher.join(WAIT)
    assert not fetcher.is_alive()
    assert got[0] is not None and got[0].node_id == "a"
    assert broker.pending_count() == 1


def test_close_wakes_blocked_fetchers_with_none() -> None:
    broker = LocalBroker()
    got: list[TaskAssignment | None] = []
    fetchers = [threading.Thread(target=lambda: got.append(broker.fetch("w", None, None))) for _ in range(3)]
    for fetcher in fetchers:
        fetcher.start()
    time.sleep(0.05)
    broker.close()
    for fetcher in fetchers:
        fetcher.join(WAIT)
        assert not fetcher.is_alive()
    assert got == [None, None, None]
    assert broker.closed
    broker.dispatch(task("a"))  # after close: nothing is queued
    assert broker.pending_count() == 0
    assert broker.fetch("w", None, None) is None


def test_concurrent_fetchers_never_get_the_same_assignment() -> None:
    broker = LocalBroker()
    total = 300
    got: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        while (a := broker.fetch("w", None, None)) is not None:
            with lock:
                got.append(a.id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for i in range(total):
        broker.dispatch(task(f"n{i}"))
    give_up = time.monotonic() + WAIT
    while len(got) < total and time.monotonic() < give_up:
        time.sleep(0.01)
    broker.close()
    for thread in threads:
        thread.join(WAIT)
    assert len(got) == total
    assert len(set(got)) == total


# --- reports ---------------------------------------------------------------------


def test_take_reports_in_order_and_up_to_max_items() -> None:
    broker = LocalBroker()
    assert broker.take_reports() == []
    broker.report_started(started("a"))
    broker.report_result(finished("a"))
    broker.report_started(started("b"))
    assert broker.take_reports(max_items=2) == [started("a"), finished("a")]
    assert broker.take_reports() == [started("b")]
    assert broker.take_reports() == []


def test_take_reports_waits_for_the_first_only() -> None:
    broker = LocalBroker()
    started_at = time.monotonic()
    assert broker.take_reports(timeout=0.2) == []
    assert time.monotonic() - started_at >= 0.2

    def report_later() -> None:
        time.sleep(0.1)
        broker.report_result(finished("a"))

    threading.Thread(target=report_later).start()
    assert broker.take_reports(timeout=WAIT) == [finished("a")]


def test_take_reports_without_timeout_wakes_on_close() -> None:
    broker = LocalBroker()
    got: list[list[object]] = []
    taker = threading.Thread(target=lambda: got.append(list(broker.take_reports(timeout=None))))
    taker.start()
    time.sleep(0.05)
    broker.close()
    taker.join(WAIT)
    assert not taker.is_alive()
    assert got == [[]]


def test_result_of_a_cancelled_assignment_is_still_reported() -> None:
    broker = LocalBroker()
    broker.dispatch(task("a"))
    drain(broker)
    broker.cancel("r1:a#1")
    broker.report_result(finished("a", code=3))
    assert broker.take_reports() == [finished("a", code=3)]
