"""``node_view`` and the table of what each of its keys is computed from.

The view history records, per event, only the keys of a node's view whose source fields
changed (``node_view_change``); a key whose sources were listed wrong would go stale.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from immutables import Map

from aether.events.values import BoundParameter, ResultParameter
from aether.projections.views import (
    NODE_VIEW_SOURCES,
    node_view,
    node_view_change,
    node_view_fields,
    run_header,
    run_header_changed,
)
from aether.reducers.state import AttemptState, DagProgress, LoopProgress, NodeState, RunInfo, RunState

pytestmark = pytest.mark.spec("6.1", "6.2")

SAMPLE = NodeState(
    node_id="main/a",
    parent_id="main",
    task_name="a",
    template_name="step",
    template_type="task",
    depth=1,
    seq=3,
    created_ms=1_000,
    template_key=("", "step"),
    phase="Running",
    message="",
    index=None,
    task_index=0,
    started_ms=2_000,
    finished_ms=None,
    inputs=(BoundParameter("x", 1, True),),
    outputs=None,
    attempt=1,
    retry_count=0,
)
OTHER_VALUES: dict[str, Any] = {
    "template_key": ("", "other"),
    "index": 4,
    "task_index": 9,
    "finished_ms": 3_500,
    "inputs": (BoundParameter("x", 2, True),),
    "artifacts": ({"name": "log"},),
    "outputs": (ResultParameter("r", "v"),),
    "attempts": (AttemptState(1, "initial", 0, "run:main/a#1", 1_500),),
    "accumulated": (ResultParameter("r", "v"),),
    "last_code": 3,
    "deadline_ms": 9_000,
    "fresh": True,
    "dag": DagProgress(),
    "loop": LoopProgress(),
    "phase": "Succeeded",
}


def _other(field: attrs.Attribute) -> Any:  # type: ignore[type-arg]
    if field.name in OTHER_VALUES:
        return OTHER_VALUES[field.name]
    value = getattr(SAMPLE, field.name)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "-x"
    raise AssertionError(f"no other value for {field.name}: add one to OTHER_VALUES")


def test_the_table_names_every_key_in_order() -> None:
    assert list(node_view(SAMPLE)) == list(NODE_VIEW_SOURCES)


@pytest.mark.parametrize("field", attrs.fields(NodeState), ids=lambda f: f.name)
def test_changing_a_field_changes_only_the_keys_computed_from_it(field: attrs.Attribute) -> None:  # type: ignore[type-arg]
    changed = attrs.evolve(SAMPLE, **{field.name: _other(field)})
    before, after = node_view(SAMPLE), node_view(changed)
    differing = {key for key in before if before[key] != after[key]}
    listed = {key for key, sources in NODE_VIEW_SOURCES.items() if field.name in sources}
    assert differing <= listed, f"{field.name} changes {differing - listed} but the table does not say so"
    delta = node_view_change(SAMPLE, changed)
    assert set(delta) == (listed if node_view_fields(SAMPLE) != node_view_fields(changed) else set())
    assert {**before, **delta} == after


def test_a_new_node_carries_its_whole_view() -> None:
    assert node_view_change(None, SAMPLE) == node_view(SAMPLE)
    assert node_view_change(SAMPLE, SAMPLE) == {}


def _run_state() -> RunState:
    info = RunInfo(run_id="r", name="n", namespace="default", plan=None)  # type: ignore[arg-type]
    return RunState(info=info, phase="Running", started_ms=1_000)


RUN_OTHER_VALUES: dict[str, Any] = {
    "info": RunInfo(run_id="r2", name="n", namespace="default", plan=None),  # type: ignore[arg-type]
    "phase": "Succeeded",
    "message": "done",
    "started_ms": 2_000,
    "finished_ms": 3_000,
    "outputs": (ResultParameter("r", "v"),),
    "nodes": Map({"main": SAMPLE}),
    "order": Map({0: "main"}),
    "timers": Map({"t": 1}),
    "open_attempts": Map({"a": "main"}),
    "hook_counts": Map({("-", "exit"): 1}),
    "undelivered_hooks": Map({"k": {}}),
}


@pytest.mark.parametrize("field", attrs.fields(RunState), ids=lambda f: f.name)
def test_run_header_changed_sees_every_field_the_header_reads(field: attrs.Attribute) -> None:  # type: ignore[type-arg]
    state = _run_state()
    value = getattr(state, field.name)
    if field.name in RUN_OTHER_VALUES:
        other = RUN_OTHER_VALUES[field.name]
    else:
        assert isinstance(value, int), f"no other value for {field.name}: add one to RUN_OTHER_VALUES"
        other = value + 1
    changed = attrs.evolve(state, **{field.name: other})
    if run_header(changed) != run_header(state):
        assert run_header_changed(state, changed), f"{field.name} changes the header unnoticed"
