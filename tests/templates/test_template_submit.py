"""Submissions resolve template references from the store, once, at submit (SPEC §13.2 to
§13.4, §3.3.11): a reference that does not resolve is refused with nothing written, one
that does is recorded with a snapshot that later changes to the store do not touch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.documents import dag, dag_task
from template_support import Driver, calling, echo_leaf, extending, library, ref_task

from aether.events import catalog as ev
from aether.events.codec import decode
from aether.events.cron_events import CronRunStartFailed
from aether.events.streams import run_stream
from aether.events.times import ms_to_datetime
from aether.model.problems import ValidationError
from aether.runtime.cron import CronService
from aether.runtime.engine import Engine
from aether.store.memory import InMemoryEventLog

pytestmark = pytest.mark.spec("3.3.11", "13.2", "13.3", "13.4")


def refusal(engine: Engine, document: dict) -> list[tuple[str, str, str]]:
    before = engine.log.last_position()
    with pytest.raises(ValidationError) as refused:
        engine.submit(document)
    assert engine.log.last_position() == before, "a refused submission wrote something"
    return [(p.code, p.path, p.message) for p in refused.value.errors]


# --- without a store: what used to end in a KeyError or an AssertionError --------------------


def test_a_template_ref_without_a_store_is_refused_at_submit() -> None:
    engine = Engine(InMemoryEventLog(), workers=0)
    assert refusal(engine, calling("w", "missing", "hello")) == [
        ("E-TEMPLATE-REF-NOT-FOUND", "$.spec.templates[0].dag.tasks[0].templateRef", 'templateRef "missing" not found')
    ]


def test_a_workflow_template_ref_without_a_store_is_refused_at_submit() -> None:
    engine = Engine(InMemoryEventLog(), workers=0)
    assert refusal(engine, extending("w", "base", entrypoint="hello")) == [
        ("E-TEMPLATE-REF-NOT-FOUND", "$.spec.workflowTemplateRef", 'workflowTemplateRef "default/base" not found')
    ]


# --- with a store ----------------------------------------------------------------------------


def test_a_template_ref_runs_the_stored_template_and_records_its_snapshot() -> None:
    driver = Driver()
    driver.templates.apply(library("lib", echo_leaf("hello")))
    run_id = driver.run(calling("w", "lib", "hello"))
    state = driver.engine.get_state(run_id)
    assert state.phase == "Succeeded"
    assert [n.template_name for n in state.nodes_in_order()] == ["main", "lib/hello"]
    submitted = decode(next(iter(driver.log.read(run_stream(run_id)))))
    assert isinstance(submitted, ev.WorkflowSubmitted)
    assert submitted.templates_snapshot == {"lib": [{"task": {"name": "hello", "executor": {"type": "echo"}}}]}
    # Deleting the template later changes nothing about the recorded run (§13.4).
    view = driver.engine.get(run_id)
    driver.templates.delete("lib")
    driver.engine.runs.forget(run_id)
    assert driver.engine.get(run_id) == view


def test_a_workflow_template_ref_merges_the_stored_spec() -> None:
    driver = Driver()
    driver.templates.apply(library("base", echo_leaf("hello"), echo_leaf("other"), entrypoint="hello", priority=900))
    run_id = driver.run(extending("w", "base"))
    state = driver.engine.get_state(run_id)
    assert state.phase == "Succeeded"
    submitted = decode(next(iter(driver.log.read(run_stream(run_id)))))
    assert isinstance(submitted, ev.WorkflowSubmitted)
    spec = submitted.document["spec"]
    assert "workflowTemplateRef" not in spec
    assert (spec["entrypoint"], spec["priority"]) == ("hello", 900)
    assert [t["task"]["name"] for t in spec["templates"]] == ["hello", "other"]


def test_references_resolve_in_namespaces() -> None:
    driver = Driver()
    driver.templates.apply(
        library("lib", echo_leaf("ops-only"), namespace="ops", entrypoint="ops-only"),
        library("lib", echo_leaf("hello")),
    )
    # templateRef: the run's own namespace (§13.3).
    assert driver.engine.get_state(driver.run(calling("w", "lib", "ops-only", namespace="ops"))).phase == "Succeeded"
    assert refusal(driver.engine, calling("w", "lib", "ops-only"))[0][0] == "E-TEMPLATE-REF-TEMPLATE"
    # workflowTemplateRef: its own namespace, else the run's (§13.2).
    across = extending("w", "lib")
    across["spec"]["workflowTemplateRef"]["namespace"] = "ops"
    assert driver.engine.get_state(driver.run(across)).phase == "Succeeded"
    assert refusal(driver.engine, extending("w", "lib", namespace="dev")) == [
        ("E-TEMPLATE-REF-NOT-FOUND", "$.spec.workflowTemplateRef", 'workflowTemplateRef "dev/lib" not found')
    ]


def test_a_reference_inside_a_template_is_followed_and_checked() -> None:
    driver = Driver()
    outer = library(
        "outer", dag("main", ref_task("inner", "inner", "leaf"), dag_task("local", "step")), echo_leaf("step")
    )
    driver.templates.apply(outer, library("inner", echo_leaf("leaf")))
    run_id = driver.run(calling("w", "outer", "main"))
    state = driver.engine.get_state(run_id)
    assert state.phase == "Succeeded"
    assert [n.template_name for n in state.nodes_in_order()][:3] == ["main", "outer/main", "inner/leaf"]
    assert [n.phase for n in state.nodes_in_order()] == ["Succeeded"] * 4
    task_ref = "$.spec.templates[0].dag.tasks[0].templateRef"
    # The template behind the reference loses what it references: refused at submit.
    driver.templates.apply(library("inner", echo_leaf("renamed")))
    assert refusal(driver.engine, calling("w", "outer", "main")) == [
        (
            "E-TEMPLATE-REF-TEMPLATE",
            task_ref,
            'templateRef "inner/leaf": template not found (in template "outer/main")',
        )
    ]
    driver.templates.delete("inner")
    assert refusal(driver.engine, calling("w", "outer", "main")) == [
        ("E-TEMPLATE-REF-NOT-FOUND", task_ref, 'templateRef "inner" not found (in template "outer/main")')
    ]


def test_a_cycle_through_references_is_a_nesting_error() -> None:
    driver = Driver()
    driver.templates.apply(
        library("ping", dag("main", ref_task("x", "pong", "main"))),
        library("pong", dag("main", ref_task("x", "ping", "main"))),
    )
    assert refusal(driver.engine, calling("w", "ping", "main")) == [
        ("E-NESTING-DEPTH", "$.spec.entrypoint", "template nesting depth exceeds maximum (3)")
    ]


def test_a_run_of_kind_workflow_template_is_refused() -> None:
    driver = Driver()
    codes = refusal(driver.engine, library("lib", echo_leaf("hello")))
    assert codes[0][:2] == ("E-KIND", "$.kind")


# --- crons ------------------------------------------------------------------------------------


def cron_of(name: str, workflow_spec: dict) -> dict:
    return {
        "apiVersion": "aether/v1",
        "kind": "CronWorkflow",
        "metadata": {"name": name},
        "spec": {"schedule": "@hourly", "workflowSpec": workflow_spec},
    }


def tick(driver: Driver, crons: CronService) -> None:
    due = crons.next_due_ms()
    assert due is not None
    driver.clock.set(ms_to_datetime(due))
    crons.tick()


def test_a_cron_resolves_its_references_at_create_and_at_each_tick() -> None:
    driver = Driver()
    crons = CronService(driver.engine)
    spec = {"workflowTemplateRef": {"name": "base"}}
    with pytest.raises(ValidationError) as refused:
        crons.create(cron_of("hourly", spec))
    assert [p.code for p in refused.value.errors] == ["E-TEMPLATE-REF-NOT-FOUND"]
    driver.templates.apply(library("base", echo_leaf("first"), entrypoint="first"))
    crons.create(cron_of("hourly", spec))
    # The template changes after the cron was created: the tick runs what is stored then.
    driver.clock.advance(timedelta(minutes=1))
    driver.templates.apply(library("base", echo_leaf("second"), entrypoint="second"))
    tick(driver, crons)
    (run_id,) = driver.engine.run_ids()
    driver.drive(run_id)
    state = driver.engine.get_state(run_id)
    assert state.phase == "Succeeded"
    assert [n.template_name for n in state.nodes_in_order()] == ["second"]
    # The template is deleted: the next tick's run is refused and recorded as such, not raised.
    driver.templates.delete("base")
    tick(driver, crons)
    assert driver.engine.run_ids() == [run_id]
    failed = [e for e in map(decode, driver.log.read("cron:default/hourly")) if isinstance(e, CronRunStartFailed)]
    assert len(failed) == 1 and "E-TEMPLATE-REF-NOT-FOUND" in failed[0].message


def test_a_cron_with_a_dangling_template_ref_is_refused_at_create() -> None:
    driver = Driver()
    crons = CronService(driver.engine)
    spec = {"entrypoint": "main", "templates": [dag("main", ref_task("x", "lib", "leaf"))]}
    with pytest.raises(ValidationError) as refused:
        crons.create(cron_of("hourly", spec))
    assert [(p.code, p.path) for p in refused.value.errors] == [
        ("E-TEMPLATE-REF-NOT-FOUND", "$.spec.workflowSpec.templates[0].dag.tasks[0].templateRef")
    ]
    assert driver.log.last_position() == 0
    driver.templates.apply(library("lib", echo_leaf("leaf")))
    assert crons.create(cron_of("hourly", spec)) == "hourly"
