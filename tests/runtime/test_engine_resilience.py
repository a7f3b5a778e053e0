"""The engine never loses an input: a bug in the decider ends that run (recorded), and a
failed append is retried with the same inputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from support.documents import dag, echo_task, workflow

from aether.events import catalog as ev
from aether.runtime.engine import Engine
from aether.scheduler import leaf
from aether.scheduler.decide import decide
from aether.store.base import AppendRequest, StoreError
from aether.store.coordination import Claim
from aether.store.memory import InMemoryEventLog

pytestmark = pytest.mark.spec("6.4")

DOCUMENT = workflow("w", dag("main", echo_task("a")))


def test_a_bug_in_the_decider_ends_the_run_with_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine(workers=0)
    run_id = engine.submit(DOCUMENT).run_id
    state = engine.get_state(run_id)

    def broken(*_args: Any, **_kwargs: Any) -> bool:
        raise KeyError("a bug")

    monkeypatch.setattr(leaf, "on_result", broken)
    decision = decide(state, ev.TaskResultReported("main/a", 1, "2026-03-01T10:00:01.000Z", 0))
    assert decision.state.phase == "Error"
    assert decision.state.message.startswith("engine internal error: KeyError")
    assert all(node.terminal for node in decision.state.nodes_in_order())
    # the same input decides the same way again: a replay reproduces it
    again = decide(state, ev.TaskResultReported("main/a", 1, "2026-03-01T10:00:01.000Z", 0))
    assert again.events == decision.events


class FlakyLog(InMemoryEventLog):
    """Refuses the first ``failures`` batch appends, like a locked or full database."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def append_batch(
        self, requests: Sequence[AppendRequest], *, fence: str | None = None, claims: Sequence[Claim] = ()
    ) -> list[int]:
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("database is locked")
        return super().append_batch(requests, fence=fence, claims=claims)


def test_inputs_whose_append_failed_are_decided_again() -> None:
    log = FlakyLog(failures=0)
    engine = Engine(log, workers=1)
    engine.RETRY_DELAY = 0.01  # type: ignore[misc]
    with engine:
        run_id = engine.submit(DOCUMENT).run_id
        log.failures = 2  # the worker's start and result reports meet a refusing log
        view = engine.wait(run_id, timeout=30)
    assert view["phase"] == "Succeeded"
    assert log.failures == 0
    assert any("recording failed" in d for d in engine.diagnostics)
