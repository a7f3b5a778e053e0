"""Hooks are delivered at least once (SPEC §11.5): a hook fired before a crash but never
delivered is sent again by the next engine, with the same idempotency key."""

from __future__ import annotations

from typing import Any

import pytest
from support.deaths import declare_dead
from support.documents import dag, echo_task, executor, task, workflow

from aether.runtime.engine import Engine
from aether.runtime.notifiers import RecordingNotifier
from aether.scheduler.effects import Notify
from aether.store.memory import InMemoryEventLog

pytestmark = pytest.mark.spec("11.5")

DOCUMENT = workflow(
    "hooked",
    dag("main", echo_task("a")),
    task("note", executor("echo")),
    hooks={"onSuccess": {"template": "note"}, "onExit": {"template": "note"}},
)


def test_hooks_fired_before_a_crash_are_delivered_by_the_next_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    log = InMemoryEventLog()
    lost = RecordingNotifier()
    first = Engine(log, notifiers=[lost], workers=1)
    perform = first._perform

    def crash_before_notifying(effect: Any) -> None:
        if not isinstance(effect, Notify):  # the process dies before it reaches a notifier
            perform(effect)

    monkeypatch.setattr(first, "_perform", crash_before_notifying)
    with first:
        run_id = first.submit(DOCUMENT).run_id
        assert first.wait(run_id, timeout=30)["phase"] == "Succeeded"
    assert lost.events == []
    fired = sorted(first.get_state(run_id).undelivered_hooks.keys())
    assert fired == [f"{run_id}/-/onExit/1", f"{run_id}/-/onSuccess/1"]

    delivered = RecordingNotifier()
    second = Engine(log, notifiers=[delivered], workers=0)
    second.recover()
    second.pump()
    keys = sorted(e["idempotencyKey"] for e in delivered.events if e["runId"] == run_id)
    assert keys == fired, "each undelivered hook is sent once, with its original key"
    assert len(second.get_state(run_id).undelivered_hooks) == 0

    declare_dead(second)
    third = Engine(log, notifiers=[again := RecordingNotifier()], workers=0)
    third.recover()
    assert [e for e in again.events if e["runId"] == run_id] == [], "a delivered hook is not sent again"


def test_a_failing_notifier_is_a_recorded_warning_not_a_retry_loop() -> None:
    class Broken:
        def notify(self, event: dict[str, Any]) -> None:
            raise RuntimeError("webhook down")

    engine = Engine(notifiers=[Broken()], workers=1)
    view = engine.run(DOCUMENT, timeout=30)
    assert view["phase"] == "Succeeded"
    state = engine.get_state(view["runId"])
    assert len(state.undelivered_hooks) == 0
    failures = [e for _seq, e in engine.events(view["runId"]) if type(e).__name__ == "HookDelivered"]
    assert failures and all("webhook down" in e.error for e in failures)  # type: ignore[attr-defined]
