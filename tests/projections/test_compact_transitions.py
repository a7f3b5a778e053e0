"""The phase transitions of a compact record (SPEC §6.6.1), read from the record alone,
are those found by folding each event it stands for, for every compact record of
generated histories."""

from __future__ import annotations

import pytest
from hypothesis import given

from aether.events.compaction import is_compact
from aether.projections.transitions import compact_transitions, stepwise
from aether.reducers.run import apply
from aether.reducers.state import RunState
from tests.properties.decided_histories import History, histories

pytestmark = pytest.mark.spec("6.6.1")


@given(histories())
def test_a_compact_record_moves_its_node_as_the_steps_it_stands_for(history: History) -> None:
    state: RunState | None = None
    compact = 0
    for event in history.events:
        if is_compact(event):
            compact += 1
            assert compact_transitions(state, event) == stepwise(state, event), event
        state = apply(state, event)
    # Nearly every history records its tasks compactly; the check is not vacuous.
    assert compact > 0 or not any(type(e).__name__ == "TaskDispatched" for e in history.events)
