"""The outbox (ARCHITECTURE rule 5): ``effects_of`` is the one mapping from recorded events
to effects, and recovery owes exactly what live processing asked for and the world has
not answered yet.

Checked on every history of the ``replay/`` corpus, at every point between two inputs:
the effects recovery would re-issue at that point (``outstanding_effects`` over the
events recorded so far) are the live decisions' effects still owed, and they are exactly
the open attempts, the unfired timers and the undelivered hooks of the state.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aether.events import catalog as ev
from aether.events.catalog import INPUT
from aether.events.codec import decode_raw
from aether.history.transfer import parse_lines
from aether.reducers.state import RunState
from aether.scheduler.decide import decide
from aether.scheduler.effects import ArmTimer, Dispatch, Effect, Notify, RunFinished
from aether.scheduler.outbox import decision_effects, effects_of, is_outstanding, outstanding_effects

pytestmark = pytest.mark.spec("6.6", "7.1")

CORPUS = Path(__file__).resolve().parents[2] / "replay"
HISTORIES = sorted(CORPUS.glob("*.jsonl"))


def _recorded(history: Path) -> list[ev.Event]:
    parsed = parse_lines(history.read_bytes().splitlines(), str(history))
    return [decode_raw(pending.type, pending.schema_version, pending.data) for pending in parsed.events]


def _owed_by_state(state: RunState) -> set[tuple[str, str]]:
    """What a run at ``state`` still owes the world, read from the state alone."""
    owed: set[tuple[str, str]] = {("notify", key) for key in state.undelivered_hooks}
    if not state.terminal:
        owed |= {("dispatch", assignment_id) for assignment_id in state.open_attempts}
        owed |= {("timer", timer.timer_id) for timer in state.timers.values() if not timer.fired}
    return owed


def _kinds(effects: tuple[Effect, ...]) -> set[tuple[str, str]]:
    named: set[tuple[str, str]] = set()
    for effect in effects:
        if isinstance(effect, Dispatch):
            named.add(("dispatch", effect.assignment.id))
        elif isinstance(effect, ArmTimer):
            named.add(("timer", effect.timer_id))
        elif isinstance(effect, Notify):
            named.add(("notify", effect.idempotency_key))
    return named


def test_the_corpus_is_there() -> None:
    assert len(HISTORIES) >= 15


@pytest.mark.parametrize("history", HISTORIES, ids=lambda path: path.stem)
def test_recovery_owes_what_live_processing_asked_for_and_nothing_else(history: Path) -> None:
    events = _recorded(history)
    run_id = events[0].run_id  # type: ignore[attr-defined]
    state: RunState | None = None
    live: list[Effect] = []
    position = 0
    while position < len(events):
        trigger = events[position]
        assert trigger.KIND == INPUT, f"event {position + 1} of {history.name} should be an input"
        decision = decide(state, trigger)
        recorded = events[position + 1 : position + 1 + len(decision.events)]
        assert list(decision.events) == recorded, f"{history.name}: decisions differ after event {position + 1}"
        assert decision.effects == decision_effects(run_id, decision.events)
        live.extend(decision.effects)
        state = decision.state
        position += 1 + len(decision.events)

        recovered = outstanding_effects(run_id, state, events[:position])
        still_owed = tuple(effect for effect in live if is_outstanding(state, effect))
        assert recovered == still_owed, f"{history.name} at event {position}"
        assert _kinds(recovered) == _owed_by_state(state), f"{history.name} at event {position}"


def test_each_recorded_fact_asks_for_its_effect() -> None:
    assignment_events = [e for history in HISTORIES for e in _recorded(history) if isinstance(e, ev.TaskDispatched)]
    executed = [e for e in assignment_events if e.reason != "reuse"]
    reused = [e for e in assignment_events if e.reason == "reuse"]
    assert executed and reused, "the corpus has executed and reused attempts"
    for event in executed:
        assert effects_of("r", event) == (Dispatch(event.assignment),)
    for event in reused:
        assert effects_of("r", event) == (), "a reused result is not executed again"
    completed = ev.WorkflowCompleted("Running", "Succeeded")
    assert effects_of("r", completed) == (RunFinished("r", "Succeeded"),)
    assert effects_of("r", ev.NodeCompleted("main", "Running", "Succeeded")) == ()


def test_the_end_of_a_run_is_announced_after_its_hooks() -> None:
    fired = ev.HookFired("onExit", "workflow", None, "note", "k", {"runId": "r"})
    effects = decision_effects("r", [ev.WorkflowCompleted("Running", "Failed"), fired])
    assert effects == (Notify("k", {"runId": "r"}), RunFinished("r", "Failed"))
