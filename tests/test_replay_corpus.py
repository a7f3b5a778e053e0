"""The ``replay/`` corpus (docs/architecture.md): every recorded history still loads, folds to
the run view it was recorded with, and replays through today's ``decide`` with the same
decisions.

A failure here means a change to the events, the codec, the reducers or the decider broke
histories that exist. Do not re-record the corpus to make it pass: keep old histories
loading with an upcaster (``aether.events.codec.register_upcaster``), or fix the change.
See ``replay/README.md``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from aether.events import catalog as ev
from aether.events.catalog import EVENT_TYPES, INPUT, Event
from aether.events.codec import decode_raw, to_payload
from aether.events.compaction import compact_decision, expand_all, is_compact
from aether.events.streams import run_stream
from aether.history.transfer import parse_lines
from aether.history.verify import verify_run
from aether.projections.views import run_view
from aether.reducers.run import fold
from aether.runtime.engine import Engine
from aether.store.history_import import import_history
from aether.store.memory import InMemoryEventLog

pytestmark = pytest.mark.spec("1.3")

JSON = Any
CORPUS = Path(__file__).resolve().parents[1] / "replay"
HISTORIES = sorted(CORPUS.glob("*.jsonl"))
MIN_HISTORIES = 15


def _view_path(history: Path) -> Path:
    return history.with_name(history.name[: -len(".jsonl")] + ".view.json")


def _load(history: Path) -> tuple[Engine, str]:
    """Import the file into a fresh in-memory log, as ``aether import`` does."""
    parsed = parse_lines(history.read_bytes().splitlines(), str(history))
    log = InMemoryEventLog()
    run_id = import_history(log, parsed)
    return Engine(log, workers=0), run_id


def _differences(recorded: JSON, current: JSON, path: str = "$") -> list[str]:
    """Where ``current`` differs from ``recorded``. A key that today's view has and the
    recorded one lacks is not a difference (views may grow); anything recorded must be
    there with the same value."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        out: list[str] = []
        for key, value in recorded.items():
            if key not in current:
                out.append(f"{path}.{key}: missing (recorded {value!r})")
            else:
                out += _differences(value, current[key], f"{path}.{key}")
        return out
    if isinstance(recorded, list) and isinstance(current, list):
        if len(recorded) != len(current):
            return [f"{path}: {len(current)} items, recorded {len(recorded)}: {current!r} vs {recorded!r}"]
        pairs = enumerate(zip(recorded, current, strict=True))
        return [d for i, (a, b) in pairs for d in _differences(a, b, f"{path}[{i}]")]
    if type(recorded) is not type(current) or recorded != current:
        return [f"{path}: {current!r}, recorded {recorded!r}"]
    return []


def test_the_corpus_is_there() -> None:
    assert len(HISTORIES) >= MIN_HISTORIES, f"replay/ holds {len(HISTORIES)} histories, want at least {MIN_HISTORIES}"
    for history in HISTORIES:
        assert _view_path(history).exists(), f"{history.name} has no recorded view"
    for view in CORPUS.glob("*.view.json"):
        assert view.with_name(view.name[: -len(".view.json")] + ".jsonl").exists(), f"{view.name} has no history"
    assert (CORPUS / "README.md").exists()


@pytest.mark.parametrize("history", HISTORIES, ids=lambda p: p.stem)
def test_history_folds_to_its_recorded_view(history: Path) -> None:
    engine, run_id = _load(history)
    view = engine.get(run_id)
    recorded = orjson.loads(_view_path(history).read_bytes())
    problems = _differences(recorded, view)
    assert problems == [], f"{history.name} no longer folds to its recorded view:\n" + "\n".join(problems)


@pytest.mark.parametrize("history", HISTORIES, ids=lambda p: p.stem)
def test_history_replays_with_the_same_decisions(history: Path) -> None:
    engine, run_id = _load(history)
    events = sum(1 for _ in engine.log.read(run_stream(run_id)))
    result = verify_run(engine.events(run_id))
    assert result.ok, f"{history.name}: {result.mismatch.describe() if result.mismatch else ''}"
    assert result.events == events
    assert result.inputs >= 1


@pytest.mark.parametrize("history", HISTORIES, ids=lambda p: p.stem)
def test_history_upcast_to_compact_records_folds_and_verifies_as_recorded_today(history: Path) -> None:
    """Every history here predates compact records (SPEC §6.6.1): its decisions are upcast
    one by one, and the upcast history is one this Aether could have written itself. It
    verifies as a history of its own, and folds to the same run, except where a leaf's
    creation moved past a sibling's (then only the node order may differ)."""
    engine, run_id = _load(history)
    held = [event for _seq, event in engine.events(run_id)]
    groups: list[list[Event]] = []
    for event in held:
        if event.KIND == INPUT or not groups:
            groups.append([])
        groups[-1].append(event)
    upcast: list[Event] = []
    reordered = False
    for group in groups:
        compact, moved = compact_decision(group[0], group[1:])
        upcast += compact
        reordered |= moved
    assert not any(is_compact(event) for event in held)
    if any(isinstance(event, ev.TaskDispatched) for event in held):
        assert len(upcast) < len(held), "a history with tasks was not made shorter"
    # Expanding gives back exactly the recorded events; a leaf's creation comes back at
    # its dispatch, so only the order within a decision may differ.
    assert sorted(map(repr, expand_all(upcast))) == sorted(map(repr, held))
    result = verify_run(enumerate(upcast, start=1))
    assert result.ok, f"{history.name} upcast: {result.mismatch.describe() if result.mismatch else ''}"
    old, new = fold(held), fold(upcast)
    assert old is not None and new is not None
    old_view, new_view = run_view(old), run_view(new)
    if reordered:
        old_view["tasks"] = sorted(old_view["tasks"], key=lambda task: task["id"])
        new_view["tasks"] = sorted(new_view["tasks"], key=lambda task: task["id"])
    assert new_view == old_view


@pytest.mark.parametrize("history", HISTORIES, ids=lambda p: p.stem)
def test_payloads_of_current_schema_versions_decode_without_loss(history: Path) -> None:
    """An event at today's schema version must decode and re-encode to the payload on file.

    The codec ignores unknown keys and fills in defaults, so a renamed or retyped field would
    otherwise load an old history silently wrong; bump the event's VERSION and add an
    upcaster instead."""
    lost: list[str] = []
    for line_no, raw in enumerate(history.read_bytes().splitlines()[1:], start=2):
        record = orjson.loads(raw)
        cls = EVENT_TYPES[record["type"]]
        if record["schemaVersion"] != cls.VERSION:
            continue  # older version: upcasters turn it into today's, the fold tests cover it
        event = decode_raw(record["type"], record["schemaVersion"], orjson.dumps(record["data"]))
        if to_payload(event) != record["data"]:
            lost.append(f"line {line_no} ({record['type']}): {record['data']} -> {to_payload(event)}")
    assert lost == [], "\n".join(lost)


def test_the_corpus_covers_what_the_issue_lists() -> None:
    """DAGs, loops, retries, timeouts, suspend/resume, cancel, hooks, nesting, shell tasks,
    duplicates, forks, cron, WorkflowTemplates: if a file goes missing, this says which feature lost its history."""
    seen: Counter[str] = Counter()
    for history in HISTORIES:
        engine, run_id = _load(history)
        events = [event for _seq, event in engine.events(run_id)]
        view = engine.get(run_id)
        kinds = {type(e) for e in events}
        seen["runs"] += 1
        seen[f"run {view['phase']}"] += 1
        for task in view["tasks"]:
            seen[f"node {task['phase']}"] += 1
            seen[f"depth {task['depth']}"] += 1
        for event in events:
            if isinstance(event, ev.LoopExpanded):
                seen[f"loop {event.mode}"] += 1
                seen["empty loop"] += event.count == 0
            if isinstance(event, ev.LoopExpanded) and event.count > 1:
                seen["loop with iterations"] += 1
            if isinstance(event, ev.RetryScheduled):
                seen["retry with backoff" if event.delay_ms else "retry"] += 1
            if isinstance(event, ev.TimerFired):
                seen[f"timer {event.timer_id.split(':')[0]}"] += 1
            if isinstance(event, ev.TaskDispatched):
                seen[f"executor {event.assignment.executor_type}"] += 1
                seen[f"dispatch {event.reason}"] += 1
            if isinstance(event, ev.InputIgnored):
                seen[f"ignored {event.reason}"] += 1
            if isinstance(event, ev.WorkflowSubmitted) and event.origin:
                seen[f"origin {event.origin['kind']}"] += 1
            if isinstance(event, ev.WorkflowSubmitted) and event.cron:
                seen["cron run"] += 1
            if isinstance(event, ev.WorkflowSubmitted) and event.templates_snapshot:
                seen["workflow template"] += 1
        for cls in (ev.ResumeRequested, ev.CancelRequested, ev.HookFired, ev.RepeatConditionEvaluated):
            seen[cls.__name__] += cls in kinds
    wanted = [
        "run Succeeded",
        "run Failed",
        "run Cancelled",
        "node Skipped",
        "node Failed",
        "node Timeout",
        "node Cancelled",
        "depth 2",
        "loop items",
        "loop itemsFrom",
        "loop repeat",
        "empty loop",
        "loop with iterations",
        "retry",
        "retry with backoff",
        "timer task",
        "timer retry",
        "executor echo",
        "executor shell",
        "dispatch retry",
        "dispatch resume",
        "dispatch reuse",
        "ignored duplicate",
        "origin retry",
        "origin reset",
        "cron run",
        "workflow template",
        "ResumeRequested",
        "CancelRequested",
        "HookFired",
        "RepeatConditionEvaluated",
    ]
    missing = [what for what in wanted if not seen[what]]
    assert missing == [], f"no recorded history has: {missing}"
