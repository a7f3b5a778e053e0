"""Timer ids: the record writes exactly the text of SPEC §10 and reads it back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aether.events.timers import TimerId

pytestmark = pytest.mark.spec("10")


@pytest.mark.parametrize(
    ("timer", "text"),
    [
        (TimerId.workflow(), "workflow"),
        (TimerId.task("main/a", 0), "task:main/a:0"),
        (TimerId.retry("main/loop[2]/body", 3), "retry:main/loop[2]/body:3"),
        (TimerId.container("main/d"), "container:main/d"),
    ],
)
def test_the_text_is_the_wire_form(timer: TimerId, text: str) -> None:
    assert timer.format() == text
    assert TimerId.parse(text) == timer


@pytest.mark.parametrize(
    "text",
    ["", "workflow:x", "task", "task:", "task:main/a", "task:main/a:", "task::1", "task:a:-1", "task:a:²", "lease:a:1"],
)
def test_text_no_aether_writes_parses_to_none(text: str) -> None:
    assert TimerId.parse(text) is None


node_ids = st.text(min_size=1)


@given(node_ids, st.integers(min_value=0, max_value=10**6), st.sampled_from(["task", "retry"]))
def test_counted_timers_round_trip_whatever_the_node_id_holds(node_id: str, count: int, purpose: str) -> None:
    timer = TimerId.task(node_id, count) if purpose == "task" else TimerId.retry(node_id, count)
    assert TimerId.parse(timer.format()) == timer


@given(node_ids)
def test_container_timers_round_trip_whatever_the_node_id_holds(node_id: str) -> None:
    timer = TimerId.container(node_id)
    assert TimerId.parse(timer.format()) == timer
