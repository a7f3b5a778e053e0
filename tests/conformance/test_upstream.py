"""Every upstream example against its assertion file (SPEC §16), with both logs."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from aether.events.assignment import TaskResultReport, TaskStartReport
from aether.events.catalog import InputIgnored
from aether.events.codec import decode
from aether.events.streams import run_stream
from aether.store.base import EventLog
from tests.conformance.harness import Harness, example_names, load_example, submit_error, verify_run

pytestmark = pytest.mark.spec(
    "1.1",
    "2.1",
    "4.1",
    "4.2",
    "4.3",
    "4.4",
    "4.5.1",
    "4.5.2",
    "4.5.3",
    "4.5.4",
    "4.5.5",
    "4.5.6",
    "4.6.1",
    "4.6.2",
    "4.6.3",
    "4.6.4",
    "4.7",
    "6.2",
    "7.3.1",
    "7.3.2",
    "7.3.3",
    "7.6",
    "7.7",
    "7.8",
    "8.1",
    "8.2",
    "8.3",
    "8.4",
    "8.5",
    "9.1",
    "9.2",
    "10.2",
    "11.1",
    "11.2",
    "11.3",
    "11.5",
    "14.2",
    "16",
    "16.2",
    "16.3",
    "16.4",
    "16.6",
    "16.7",
    "16.8",
)

JSON = Any
CRON_EXAMPLES = {"28-cron-basic", "29-cron-concurrency-forbid", "30-cron-concurrency-replace"}
EMPTY_LOOP = {n for n in example_names() if n[:2].isdigit() and 31 <= int(n[:2]) <= 39}
WORKFLOW_EXAMPLES = [n for n in example_names() if n not in CRON_EXAMPLES]


def _hooks(harness: Harness, scope: str, hook_type: str) -> list[dict[str, JSON]]:
    return [e for e in harness.hooks.events if e["scope"] == scope and e["hookType"] == hook_type]


def check_hooks(name: str, harness: Harness, view: dict[str, JSON]) -> list[str]:
    """SPEC §16.6."""
    failures: list[str] = []

    def count(scope: str, hook: str, want: int) -> None:
        got = len(_hooks(harness, scope, hook))
        if got != want:
            failures.append(f"{scope} {hook}: fired {got} times, want {want}")

    number = int(name[:2])
    if number == 24:
        for hook in ("onStart", "onSuccess", "onExit"):
            count("workflow", hook, 1)
            count("task", hook, 2)
        for event in harness.hooks.events:
            if not event.get("runId") or event["template"] != "hook-task":
                failures.append(f"hook event without runId or template hook-task: {event}")
            if event["scope"] == "task" and not event.get("taskName"):
                failures.append(f"task hook without taskName: {event}")
        if any(d.startswith("E-") for d in harness.engine.diagnostics):
            failures.append(f"error diagnostics: {harness.engine.diagnostics}")
    elif number == 25:
        types = [e["hookType"] for e in harness.hooks.events if e["scope"] == "task"]
        if "onSuspend" not in types or "onResume" not in types or types.index("onSuspend") > types.index("onResume"):
            failures.append(f"onSuspend must fire before the resume: {types}")
        count("task", "onStart", 2)
        for hook in ("onSuspend", "onResume", "onSuccess", "onExit"):
            count("task", hook, 1)
    elif number == 26:
        for hook in ("onStart", "onCancel", "onExit"):
            count("workflow", hook, 1)
        for hook in ("onCancel", "onExit"):
            got = [e for e in _hooks(harness, "task", hook) if e.get("taskName") == "wait"]
            if len(got) != 1:
                failures.append(f'task {hook} for "wait": fired {len(got)} times, want 1')
    elif 31 <= number <= 39:
        count("workflow", "onSuccess", 1)
        count("workflow", "onExit", 1)
        for event in harness.hooks.events:
            if event["scope"] == "workflow" and event["template"] != "score-item":
                failures.append(f"workflow hook template {event['template']}, want score-item")
        if number in (31, 34):
            count("workflow", "onStart", 0)
            if view["startedAt"] != "" or view["finishedAt"] == "":
                failures.append(f"startedAt {view['startedAt']!r} must be empty and finishedAt set")
        else:
            count("workflow", "onStart", 1)
    return failures


@pytest.mark.parametrize("name", WORKFLOW_EXAMPLES)
def test_upstream_example(name: str, event_log: EventLog) -> None:
    text, assertion = load_example(name)
    if "expectSubmitError" in assertion:
        error = submit_error(event_log, text)
        assert error is not None, "submit must fail"
        assert assertion["expectSubmitError"] in error
        assert list(event_log.streams()) == [], "a rejected submit writes nothing"
        return
    harness = Harness(event_log)
    run_id = harness.run_workflow(text, assertion)
    view = harness.engine.get(run_id)
    failures = verify_run(view, assertion) + check_hooks(name, harness, view)
    assert failures == [], "\n".join(failures)


def _ignored(log: EventLog, run_id: str) -> list[InputIgnored]:
    events = [decode(e) for e in log.read(run_stream(run_id))]
    return [e for e in events if isinstance(e, InputIgnored)]


@pytest.mark.parametrize("order", ["fifo", "lifo"])
@pytest.mark.parametrize("name", sorted(EMPTY_LOOP))
def test_empty_loop_harness(name: str, order: str, event_log: EventLog) -> None:
    """SPEC §16.7: both worker orders, dispatch discipline, and a duplicate result."""
    text, assertion = load_example(name)
    harness = Harness(event_log, order=order)
    summarize_checks: list[str] = []

    def before_summarize(h: Harness, assignment: Any) -> None:
        if assignment.task_name != "summarize":
            return
        for node in h.engine.get_state(assignment.run_id).nodes_in_order():
            if node.task_name in ("batch", "loop-a", "loop-b") and node.phase != "Succeeded":
                summarize_checks.append(f"{node.node_id} is {node.phase} when summarize is dispatched")
        scores = [p for p in assignment.inputs if p.name == "scores"]
        expected = {t["taskName"]: t for t in assertion.get("expectTasks", [])}
        if "scores" in expected.get("summarize", {}).get("expectInputs", {}) and (
            not scores or scores[0].value != [] or not scores[0].has_value
        ):
            summarize_checks.append(f"dispatched scores input is {scores}, want []")

    harness.on_dispatch = before_summarize
    run_id = harness.run_workflow(text, assertion)
    view = harness.engine.get(run_id)
    failures = verify_run(view, assertion) + check_hooks(name, harness, view) + summarize_checks
    ids = [d.assignment.id for d in harness.dispatched]
    if len(ids) != len(set(ids)):
        failures.append(f"an attempt was dispatched twice: {ids}")
    if any(d.run_terminal for d in harness.dispatched):
        failures.append("a dispatch happened after the run was terminal")
    leaves = Counter(d.assignment.node_id for d in harness.dispatched)
    if any(n != 1 for n in leaves.values()):
        failures.append(f"every leaf must run exactly once: {leaves}")
    node_ids = [t["id"] for t in view["tasks"]]
    if len(node_ids) != len(set(node_ids)):
        failures.append("node ids are not unique")
    not_ok = [t["id"] for t in view["tasks"] if t["phase"] != "Succeeded"]
    if not_ok:
        failures.append(f"nodes not Succeeded: {not_ok}")
    # The last result delivered again is recorded as a duplicate and changes nothing
    # (31 and 34 dispatch nothing, so they have no result to deliver twice).
    last = harness.last_result
    if name.startswith(("31-", "34-")):
        assert last is None, "31 and 34 must dispatch nothing"
    else:
        assert last is not None, "no task result was delivered"
        before = harness.engine.get(run_id)
        ignored_before = len(_ignored(event_log, run_id))
        harness.broker.report_result(last)
        harness.engine.pump()
        ignored = _ignored(event_log, run_id)
        if len(ignored) != ignored_before + 1 or ignored[-1].reason != "duplicate":
            failures.append(f"duplicate result not recorded as InputIgnored(duplicate): {ignored}")
        if harness.engine.get(run_id) != before:
            failures.append("a duplicate result changed the run")
    assert failures == [], "\n".join(failures)


def test_cancel_while_summarize_dispatched(event_log: EventLog) -> None:
    """SPEC §16.7 cancellation case (32, FIFO)."""
    text, _assertion = load_example("32-empty-loop-binding")
    harness = Harness(event_log, order="fifo")
    cancelled: list[Any] = []

    def cancel_at_summarize(h: Harness, assignment: Any) -> None:
        if assignment.task_name == "summarize" and not cancelled:
            cancelled.append(assignment)
            h.engine.cancel(assignment.run_id)

    harness.on_dispatch = cancel_at_summarize
    run_id = harness.run_workflow(text, {})
    assert cancelled, "summarize was never dispatched"
    assignment = cancelled[0]
    ignored_before = len(_ignored(event_log, run_id))
    harness.broker.report_started(
        TaskStartReport(assignment.id, run_id, assignment.node_id, assignment.attempt, "worker-1")
    )
    harness.broker.report_result(
        TaskResultReport(assignment.id, run_id, assignment.node_id, assignment.attempt, "worker-1", 0, "")
    )
    harness.engine.pump()
    view = harness.engine.get(run_id)
    phases = {t["taskName"]: t["phase"] for t in view["tasks"]}
    assert view["phase"] == "Cancelled"
    assert phases == {"pipeline": "Cancelled", "batch": "Succeeded", "summarize": "Cancelled"}
    assert len(_ignored(event_log, run_id)) == ignored_before + 2
