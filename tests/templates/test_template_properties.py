"""No document reaches a traceback or an ``engine internal error`` through its template
references (SPEC §3.3.11, §13): whatever WorkflowTemplates are stored — referencing each
other or themselves, or templates that are gone — a submission is either refused with
validation problems and nothing written, or it records a run that ends normally.

The stored templates are generated as the store can come to hold them: each was valid
on its own when applied (plain names resolve inside it), but its references may name
templates that were never applied, or have since been deleted or replaced.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from template_support import Driver

from aether.expr import check_expression
from aether.model import load_document
from aether.model.problems import ValidationError
from aether.model.types import WorkflowTemplate
from aether.runtime.templates import TemplateError

pytestmark = pytest.mark.spec("3.3.9", "3.3.11", "13.2", "13.3", "13.4")

# Few names, so that references often meet: a template calls one that calls it back, or
# one that is not stored ("gone").
STORED = ("a", "b")
NAMES = (*STORED, "gone")
TEMPLATES = ("t1", "t2")
ECHO = {"type": "echo"}

refs = st.builds(
    lambda name, template: {"name": name, "template": template}, st.sampled_from(NAMES), st.sampled_from(TEMPLATES)
)


def dag_tasks(own: tuple[str, ...] = ()) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Tasks calling templates: by reference, inline, or by a plain name among ``own``."""
    targets = [refs.map(lambda ref: {"templateRef": ref}), st.just({"executor": ECHO})]
    if own:
        targets.append(st.sampled_from(own).map(lambda name: {"template": name}))
    return st.lists(st.one_of(targets), min_size=1, max_size=3).map(
        lambda calls: [{"name": f"s{i}", **call} for i, call in enumerate(calls)]
    )


def template(name: str, own: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.just({"task": {"name": name, "executor": ECHO}}),
        dag_tasks(own).map(lambda tasks: {"dag": {"name": name, "tasks": tasks}}),
        st.sampled_from(own).map(lambda body: {"loop": {"name": name, "body": body, "items": [1, 2]}}),
    )


@st.composite
def workflow_template(draw: st.DrawFn, name: str) -> dict[str, Any]:
    names = tuple(draw(st.lists(st.sampled_from(TEMPLATES), min_size=1, max_size=len(TEMPLATES), unique=True)))
    spec: dict[str, Any] = {"templates": [draw(template(n, names)) for n in names]}
    if draw(st.booleans()):
        spec["entrypoint"] = draw(st.sampled_from(names))
    if draw(st.integers(0, 7)) == 0:
        spec["workflowTemplateRef"] = {"name": draw(st.sampled_from(NAMES))}  # refused when applied
    return {"apiVersion": "aether/v1", "kind": "WorkflowTemplate", "metadata": {"name": name}, "spec": spec}


@st.composite
def workflow(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any]
    if draw(st.booleans()):
        spec = {"workflowTemplateRef": {"name": draw(st.sampled_from(NAMES))}}
        if draw(st.booleans()):
            spec["entrypoint"] = draw(st.sampled_from(TEMPLATES))
    else:
        spec = {"entrypoint": "main", "templates": [{"dag": {"name": "main", "tasks": draw(dag_tasks())}}]}
    if draw(st.booleans()):
        spec["maxNestedDepth"] = draw(st.integers(1, 10))
    return {"apiVersion": "aether/v1", "kind": "Workflow", "metadata": {"name": "w"}, "spec": spec}


worlds = st.fixed_dictionaries({name: st.one_of(st.none(), workflow_template(name)) for name in STORED})


def _library(name: str, *templates: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "aether/v1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": name},
        "spec": {**spec, "templates": list(templates)},
    }


def _calling(name: str, template_name: str) -> dict[str, Any]:
    task = {"name": "s0", "templateRef": {"name": name, "template": template_name}}
    return {
        "apiVersion": "aether/v1",
        "kind": "Workflow",
        "metadata": {"name": "w"},
        "spec": {"entrypoint": "main", "templates": [{"dag": {"name": "main", "tasks": [task]}}]},
    }


def _dag(name: str, *refs: tuple[str, str]) -> dict[str, Any]:
    tasks = [{"name": f"s{i}", "templateRef": {"name": n, "template": t}} for i, (n, t) in enumerate(refs)]
    return {"dag": {"name": name, "tasks": tasks}}


LEAF = {"task": {"name": "t1", "executor": ECHO}}
# The shapes that once crashed a run, always tried first: a reference behind a reference
# that names nothing, a template gone from a stored one, a cycle, a spec from nowhere.
KNOWN = (
    ({"a": _library("a", _dag("t2", ("gone", "t1"))), "b": None}, _calling("a", "t2")),
    ({"a": _library("a", _dag("t2", ("b", "t2"))), "b": _library("b", LEAF)}, _calling("a", "t2")),
    ({"a": _library("a", _dag("t2", ("b", "t2"))), "b": _library("b", _dag("t2", ("a", "t2")))}, _calling("a", "t2")),
    ({"a": None, "b": None}, _calling("gone", "t1")),
    (
        {"a": None, "b": None},
        {
            "apiVersion": "aether/v1",
            "kind": "Workflow",
            "metadata": {"name": "w"},
            "spec": {"workflowTemplateRef": {"name": "a"}},
        },
    ),
    (
        {"a": _library("a", LEAF, entrypoint="t1", workflowTemplateRef={"name": "b"}), "b": _library("b", LEAF)},
        _calling("a", "t1"),
    ),
)


def known(test: Any) -> Any:
    for world, document in KNOWN:
        test = example(world=world, document=document)(test)
    return test


def valid_alone(document: dict[str, Any]) -> WorkflowTemplate | None:
    """The template as the store would hold it, if it was valid on its own when applied."""
    result = load_document(json.dumps(document), expected_kind="WorkflowTemplate", expression_check=check_expression)
    return result.document if isinstance(result.document, WorkflowTemplate) else None


def submit_and_finish(driver: Driver, document: dict[str, Any]) -> None:
    before = driver.log.last_position()
    try:
        run_id = driver.engine.submit(document).run_id
    except ValidationError as refused:
        assert refused.errors, "refused without an error"
        assert all(p.code != "E-INTERNAL" for p in refused.errors)
        assert driver.log.last_position() == before, "a refused submission wrote something"
        return
    phase = driver.drive(run_id)
    state = driver.engine.get_state(run_id)
    messages = [state.message, *(node.message for node in state.nodes_in_order())]
    assert not [m for m in messages if "internal error" in m], messages
    assert phase == "Succeeded", (phase, messages)
    assert driver.engine.diagnostics == []


@known
@given(world=worlds, document=workflow())
def test_references_to_whatever_the_store_holds_never_crash_a_run(
    world: dict[str, dict[str, Any] | None], document: dict[str, Any]
) -> None:
    stored = {name: valid_alone(doc) for name, doc in world.items() if doc is not None}
    driver = Driver()
    driver.engine.template_lookup = lambda namespace, name: stored.get(name) if namespace == "default" else None
    submit_and_finish(driver, document)


@example(  # stored while what it references was there, then left dangling
    world={"a": _library("a", _dag("t2", ("b", "t1"))), "b": _library("b", LEAF)},
    order=("b", "a"),
    deleted=frozenset({"b"}),
    document=_calling("a", "t2"),
)
@example(  # a cycle built by re-applying
    world={"a": _library("a", _dag("t2", ("b", "t2"))), "b": _library("b", _dag("t2", ("a", "t2")))},
    order=("b", "a", "b"),
    deleted=frozenset(),
    document=_calling("a", "t2"),
)
@given(
    world=worlds,
    order=st.lists(st.sampled_from(STORED), max_size=4),
    deleted=st.frozensets(st.sampled_from(STORED)),
    document=workflow(),
)
def test_references_through_the_real_store_never_crash_a_run(
    world: dict[str, dict[str, Any] | None], order: list[str], deleted: frozenset[str], document: dict[str, Any]
) -> None:
    """Templates applied one by one in ``order`` (a template is accepted only if what it
    references is stored by then), some deleted afterwards."""
    driver = Driver()
    for name in order:
        doc = world[name]
        if doc is None:
            continue
        try:
            driver.templates.apply(doc)
        except ValidationError as refused:
            assert refused.errors and all(p.code != "E-INTERNAL" for p in refused.errors)
    for name in sorted(deleted):
        with contextlib.suppress(TemplateError):
            driver.templates.delete(name)
    submit_and_finish(driver, document)
