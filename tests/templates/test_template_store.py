"""The WorkflowTemplate store (SPEC §13.1): applies and deletes are events of the stream
``template:<namespace>/<name>``, decided and folded like a cron's, validated before
anything is written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.documents import dag
from template_support import Driver, echo_leaf, library, ref_task

from aether.events.codec import decode, decode_raw, encode
from aether.events.cron_events import CronRunStartFailed
from aether.events.streams import template_stream
from aether.events.template_events import WorkflowTemplateApplied, WorkflowTemplateDeleted
from aether.model.problems import ValidationError
from aether.model.types import WorkflowTemplate
from aether.reducers.errors import IllegalTransition
from aether.reducers.template import apply_template
from aether.runtime.templates import TemplateError
from aether.scheduler.templates import E_TEMPLATE_NOT_FOUND, decide_template

pytestmark = pytest.mark.spec("13.1", "2.8", "6.6")

AT = "2026-03-01T10:00:00.000Z"


def test_an_applied_template_is_looked_up_listed_and_shown() -> None:
    driver = Driver()
    assert driver.templates.apply(library("lib", echo_leaf("hello"))) == [
        {"namespace": "default", "name": "lib", "revision": 1}
    ]
    found = driver.lookup("default", "lib")
    assert isinstance(found, WorkflowTemplate) and found.spec is not None
    assert [t.name for t in found.spec.templates or ()] == ["hello"]
    view = driver.templates.get("lib")
    assert (view["namespace"], view["name"], view["revision"]) == ("default", "lib", 1)
    assert view["spec"]["templates"] == [{"task": {"name": "hello", "executor": {"type": "echo"}}}]
    assert view["createdAt"] == view["updatedAt"] == AT
    assert driver.templates.list() == [
        {
            "name": "lib",
            "namespace": "default",
            "entrypoint": None,
            "templates": ["hello"],
            "revision": 1,
            "updatedAt": AT,
        }
    ]


def test_a_later_apply_replaces_and_counts_revisions() -> None:
    driver = Driver()
    driver.templates.apply(library("lib", echo_leaf("hello")))
    driver.clock.advance(timedelta(seconds=5))
    outcome = driver.templates.apply(library("lib", echo_leaf("hello"), echo_leaf("bye")))
    assert outcome == [{"namespace": "default", "name": "lib", "revision": 2}]
    view = driver.templates.get("default/lib")
    assert [t["task"]["name"] for t in view["spec"]["templates"]] == ["hello", "bye"]
    assert (view["createdAt"], view["updatedAt"]) == (AT, "2026-03-01T10:00:05.000Z")


def test_namespaces_keep_templates_of_one_name_apart() -> None:
    driver = Driver()
    driver.templates.apply(library("lib", echo_leaf("a"), namespace="ops"), library("lib", echo_leaf("b")))
    rows = driver.templates.list()
    assert [(r["namespace"], r["name"], r["templates"]) for r in rows] == [
        ("default", "lib", ["b"]),
        ("ops", "lib", ["a"]),
    ]
    assert driver.templates.get("lib", "ops")["spec"]["templates"][0]["task"]["name"] == "a"
    assert driver.templates.get("ops/lib")["spec"]["templates"][0]["task"]["name"] == "a"
    driver.templates.delete("lib", "ops")
    assert driver.lookup("ops", "lib") is None
    assert driver.lookup("default", "lib") is not None


def test_delete_removes_and_a_new_apply_starts_again() -> None:
    driver = Driver()
    driver.templates.apply(library("lib", echo_leaf("hello")))
    driver.templates.apply(library("lib", echo_leaf("hello")))
    driver.templates.delete("lib")
    assert driver.lookup("default", "lib") is None
    assert driver.templates.list() == []
    with pytest.raises(TemplateError) as missing:
        driver.templates.get("lib")
    assert missing.value.code == E_TEMPLATE_NOT_FOUND
    assert missing.value.message == "workflow template default/lib not found"
    assert driver.templates.apply(library("lib", echo_leaf("hello")))[0]["revision"] == 1


def test_deleting_an_unknown_template_is_refused_and_writes_nothing() -> None:
    driver = Driver()
    with pytest.raises(TemplateError) as refused:
        driver.templates.delete("ghost", "ops")
    assert (refused.value.code, refused.value.message) == (
        E_TEMPLATE_NOT_FOUND,
        "workflow template ops/ghost not found",
    )
    assert driver.log.last_position() == 0


def test_every_change_is_an_event_of_the_template_stream_and_replays_to_the_same_state() -> None:
    driver = Driver()
    driver.templates.apply(library("lib", echo_leaf("hello")))
    driver.templates.apply(library("lib", echo_leaf("bye")))
    driver.templates.delete("lib")
    driver.templates.apply(library("lib", echo_leaf("again")))
    stored = list(driver.log.read(template_stream("default", "lib")))
    events = [decode(s) for s in stored]
    assert [type(e) for e in events] == [
        WorkflowTemplateApplied,
        WorkflowTemplateApplied,
        WorkflowTemplateDeleted,
        WorkflowTemplateApplied,
    ]
    assert all(decode_raw(e.TYPE, e.VERSION, encode(e).data) == e for e in events)
    folded = None
    decided = None
    for event in events:
        folded = apply_template(folded, event)
        decision = decide_template(decided, event)
        assert decision.rejection is None and decision.events == () and decision.effects == ()
        decided = decision.state
    assert folded == decided == driver.store.state("default", "lib")
    assert folded is not None and folded.revision == 1 and folded.template_id == "default/lib"


def test_the_reducer_refuses_what_cannot_happen() -> None:
    with pytest.raises(IllegalTransition):
        apply_template(None, WorkflowTemplateDeleted(AT))
    applied = apply_template(None, WorkflowTemplateApplied("default/lib", AT, library("lib", echo_leaf("a"))))
    deleted = apply_template(applied, WorkflowTemplateDeleted(AT))
    with pytest.raises(IllegalTransition):
        apply_template(deleted, WorkflowTemplateDeleted(AT))
    with pytest.raises(IllegalTransition):
        apply_template(applied, CronRunStartFailed("r", AT, "no"))
    refused = decide_template(deleted, WorkflowTemplateDeleted(AT))
    assert refused.rejection is not None and refused.rejection.code == E_TEMPLATE_NOT_FOUND
    assert refused.state is deleted


def test_an_invalid_template_is_refused_with_every_problem_and_nothing_is_written() -> None:
    driver = Driver()
    nested = library("lib", echo_leaf("a"), workflowTemplateRef={"name": "other"})
    with pytest.raises(ValidationError) as invalid:
        driver.templates.apply(library("good", echo_leaf("a")), nested)
    assert [(p.code, p.path) for p in invalid.value.errors] == [("E-TEMPLATE-REF-NESTED", "$.spec.workflowTemplateRef")]
    assert driver.log.last_position() == 0  # not even the valid one


def test_a_template_reference_is_judged_against_the_batch_then_the_store() -> None:
    driver = Driver()
    uses = library("uses", dag("main", ref_task("x", "base", "leaf")))
    missing = driver.templates.check([uses])
    assert [(p.code, p.message) for p in missing[0].problems] == [
        ("E-TEMPLATE-REF-NOT-FOUND", 'templateRef "base" not found')
    ]
    assert missing[0].prepared is None
    # Templates that reference each other are applied together, in any order.
    driver.templates.apply(uses, library("base", echo_leaf("leaf")))
    assert [r["name"] for r in driver.templates.list()] == ["base", "uses"]
    # Later the store alone resolves it.
    assert driver.templates.apply(uses)[0]["revision"] == 2
    wrong = driver.templates.check([library("uses", dag("main", ref_task("x", "base", "nope")))])
    assert [p.code for p in wrong[0].problems] == ["E-TEMPLATE-REF-TEMPLATE"]
