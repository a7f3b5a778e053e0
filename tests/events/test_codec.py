"""The event codec: every catalog type round-trips; older schema versions load through
upcasters; unknown or too-new events give a clear error."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from attrs import frozen

from aether.events import catalog
from aether.events.codec import (
    _UPCASTERS,
    EventDecodeError,
    UnknownEventType,
    decode_raw,
    encode,
    register_upcaster,
)

pytestmark = pytest.mark.spec("6.6")


@pytest.fixture
def scratch_event() -> Iterator[type[catalog.Event]]:
    """A version-3 event type whose history had two older shapes, registered for one test."""

    @catalog.event("ScratchRenamed", catalog.INPUT, version=3)
    @frozen
    class ScratchRenamed(catalog.Event):
        node_id: str
        at: str
        reason: str = ""

    @register_upcaster("ScratchRenamed", 1)
    def v1_to_v2(data: dict[str, object]) -> dict[str, object]:
        # v1 called the node "task"; v2 renamed it.
        data = dict(data)
        data["nodeId"] = data.pop("task")
        return data

    @register_upcaster("ScratchRenamed", 2)
    def v2_to_v3(data: dict[str, object]) -> dict[str, object]:
        # v3 added a reason; older events had none.
        return {**data, "reason": "recorded before reasons existed"}

    try:
        yield ScratchRenamed
    finally:
        del catalog.EVENT_TYPES["ScratchRenamed"]
        del _UPCASTERS[("ScratchRenamed", 1)], _UPCASTERS[("ScratchRenamed", 2)]


def test_an_old_version_loads_as_the_current_one(scratch_event: type[catalog.Event]) -> None:
    old = orjson.dumps({"task": "main/a", "at": "2026-03-01T10:00:00.000Z"})
    event = decode_raw("ScratchRenamed", 1, old)
    assert event == scratch_event("main/a", "2026-03-01T10:00:00.000Z", "recorded before reasons existed")  # type: ignore[call-arg]
    assert (
        decode_raw("ScratchRenamed", 2, orjson.dumps({"nodeId": "x", "at": "t"})).reason
        == "recorded before reasons existed"
    )  # type: ignore[attr-defined]
    current = scratch_event("x", "t", "why")  # type: ignore[call-arg]
    stored = encode(current)
    assert stored.schema_version == 3
    assert decode_raw(stored.type, stored.schema_version, stored.data) == current


def test_a_missing_upcaster_is_named(scratch_event: type[catalog.Event]) -> None:
    del _UPCASTERS[("ScratchRenamed", 2)]
    try:
        with pytest.raises(EventDecodeError, match="ScratchRenamed v2: no upcaster to v3"):
            decode_raw("ScratchRenamed", 2, orjson.dumps({"nodeId": "x", "at": "t"}))
    finally:
        _UPCASTERS[("ScratchRenamed", 2)] = lambda data: data


def test_unknown_and_newer_events_are_refused() -> None:
    with pytest.raises(UnknownEventType, match="written by a newer Aether"):
        decode_raw("NoSuchEvent", 1, b"{}")
    with pytest.raises(EventDecodeError, match="newer than this Aether understands"):
        decode_raw("TaskStarted", 99, orjson.dumps({"nodeId": "a", "attempt": 1, "at": "t"}))
    with pytest.raises(EventDecodeError):
        decode_raw("TaskStarted", 1, orjson.dumps({"nodeId": "a"}))  # attempt and at are required


def test_a_phase_purpose_or_template_type_this_aether_does_not_know_decodes_as_written() -> None:
    # Phase, TimerPurpose and TemplateType are Literal types; a stored word outside them
    # (a newer Aether's) must load as it did when the fields were plain str.
    changed = decode_raw("PhaseChanged", 1, orjson.dumps({"nodeId": "a", "fromPhase": "Paused", "toPhase": "Ready"}))
    assert isinstance(changed, catalog.PhaseChanged) and changed.from_phase == "Paused"
    armed = {"timerId": "lease:a", "dueMs": 1, "dueAt": "t", "purpose": "lease", "nodeId": "a"}
    timer = decode_raw("TimerArmed", 1, orjson.dumps(armed))
    assert isinstance(timer, catalog.TimerArmed) and timer.purpose == "lease"
    created = {"nodeId": "a", "parentId": None, "taskName": "a", "templateName": "a", "templateType": "map", "depth": 0}
    node = decode_raw("NodeCreated", 1, orjson.dumps(created))
    assert isinstance(node, catalog.NodeCreated) and node.template_type == "map"


def test_every_catalog_type_is_registered_once_with_a_past_tense_name() -> None:
    for name, cls in catalog.EVENT_TYPES.items():
        assert name == cls.TYPE
        assert cls.KIND in (catalog.INPUT, catalog.DECISION)
        assert name.endswith(("ed", "Bound", "Lost")), name  # irregular past participles too
