"""Properties of the model layer (hypothesis).

1. Generated valid documents load without errors, and load -> dump -> load is the
   identity on them.
2. ``load_document`` only ever returns a LoadResult, for arbitrary JSON values and
   text and for valid documents mutated at random (keys deleted, renamed, re-cased,
   values swapped for other JSON values).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aether.model import LoadResult, dump_document
from aether.model.paths import split_path
from tests.properties.generators import load_document

pytestmark = pytest.mark.spec("2.1", "3.1")

# --- generators --------------------------------------------------------------------------

_LOWER = "abcdefghijklmnopqrstuvwxyz"
# DNS-1123 labels, built rather than matched against a regex (much faster to draw).
NAMES = st.builds(
    lambda head, body, tail: head + body + (f"-{tail}" if tail else ""),
    st.sampled_from(_LOWER),
    st.text(_LOWER + "0123456789", max_size=6),
    st.text(_LOWER + "0123456789", max_size=3),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
DURATIONS = st.sampled_from(["30s", "1h30m", "1.5h", "300ms", "2d", "1d12h", "0s"])
TYPES = st.sampled_from(["string", "int", "number", "bool", "array", "object", "any"])


@st.composite
def parameters(draw: st.DrawFn, with_value_from: bool = True) -> list[dict[str, Any]]:
    names = draw(st.lists(NAMES, max_size=3, unique=True))
    out: list[dict[str, Any]] = []
    for name in names:
        param: dict[str, Any] = {"name": name}
        if draw(st.booleans()):
            param["value"] = draw(JSON_VALUES.filter(lambda v: v is not None))
        if draw(st.booleans()):
            param["description"] = draw(st.text(max_size=10))
        if with_value_from and draw(st.booleans()):
            param["valueFrom"] = {"parameter": f"workflow.parameters.{name}"}
        out.append(param)
    return out


@st.composite
def task_templates(draw: st.DrawFn, name: str) -> dict[str, Any]:
    template: dict[str, Any] = {"name": name, "executor": {"type": draw(st.sampled_from(["echo", "shell"]))}}
    if draw(st.booleans()):
        template["executor"]["config"] = draw(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3))
    if draw(st.booleans()):
        template["inputs"] = {"parameters": draw(parameters())}
    if draw(st.booleans()):
        template["outputs"] = {"parameters": [{"name": n} for n in draw(st.lists(NAMES, max_size=2, unique=True))]}
    if draw(st.booleans()):
        template["timeout"] = draw(DURATIONS)
    if draw(st.booleans()):
        template["resources"] = {"cpu": draw(st.sampled_from(["1", "500m", 2, 0.5])), "memory": "64Mi"}
    return template


@st.composite
def dag_templates(draw: st.DrawFn, name: str, leaves: list[str]) -> dict[str, Any]:
    task_names = draw(st.lists(NAMES, min_size=1, max_size=6, unique=True))
    tasks: list[dict[str, Any]] = []
    for i, task_name in enumerate(task_names):
        task: dict[str, Any] = {"name": task_name}
        if draw(st.booleans()):
            task["template"] = draw(st.sampled_from(leaves))
        else:
            task["executor"] = {"type": "echo"}
        earlier = task_names[:i]
        if earlier:
            deps = draw(st.lists(st.sampled_from(earlier), max_size=3, unique=True))
            if deps:
                task["dependencies"] = deps
                if draw(st.booleans()):
                    task["when"] = f"tasks.{deps[0]}.phase == 'Succeeded'"
        if draw(st.booleans()):
            task["arguments"] = {"parameters": draw(parameters(with_value_from=False))}
        if draw(st.booleans()):
            task["continueOn"] = {"failed": draw(st.booleans()), "error": draw(st.booleans())}
        if draw(st.booleans()):
            task["retry"] = {"limit": draw(st.integers(0, 5))}
        tasks.append(task)
    template: dict[str, Any] = {"name": name, "tasks": tasks}
    if draw(st.booleans()):
        template["entrypoints"] = draw(st.sampled_from([task_names[0], task_names[:1]]))
    return template


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(NAMES, min_size=3, max_size=5, unique=True))
    entry, loop_name, *leaves = names
    templates: list[dict[str, Any]] = [{"dag": draw(dag_templates(entry, [*leaves, loop_name]))}]
    loop: dict[str, Any] = {"name": loop_name, "body": leaves[0]}
    mode = draw(st.sampled_from(["items", "itemsFrom", "repeat"]))
    if mode == "items":
        loop["items"] = draw(st.lists(JSON_VALUES, min_size=1, max_size=4))
    elif mode == "itemsFrom":
        loop["itemsFrom"] = "{{inputs.parameters.list}}"
    else:
        loop["repeatCondition"] = "loop_iter.index < 2"
        loop["maxIterations"] = draw(st.integers(1, 10))
    if draw(st.booleans()):
        loop["aggregate"] = {"strategy": draw(st.sampled_from(["last", "first", "list"]))}
    templates.append({"loop": loop})
    templates.extend({"task": draw(task_templates(leaf))} for leaf in leaves)
    spec: dict[str, Any] = {"entrypoint": entry, "templates": templates}
    if draw(st.booleans()):
        spec["arguments"] = {"parameters": draw(parameters(with_value_from=False))}
    if draw(st.booleans()):
        spec["timeout"] = draw(DURATIONS)
    if draw(st.booleans()):
        spec["priority"] = draw(st.integers(0, 1000))
    if draw(st.booleans()):
        spec["hooks"] = {"onExit": {"template": leaves[0]}}
    metadata: dict[str, Any] = {"name": draw(NAMES)}
    if draw(st.booleans()):
        metadata["labels"] = draw(st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3))
    return {"apiVersion": "aether/v1", "kind": "Workflow", "metadata": metadata, "spec": spec}


# --- 1. round trip ---------------------------------------------------------------------------


@given(documents())
def test_load_dump_load_is_identity(doc: dict[str, Any]) -> None:
    first = load_document(json.dumps(doc))
    # The generator only builds valid documents.
    assert first.ok, [(p.code, p.path, p.message) for p in first.problems if p.is_error]
    dumped = dump_document(first.document)
    second = load_document(json.dumps(dumped))
    assert second.ok, [(p.code, p.path) for p in second.problems]
    assert second.document == first.document
    assert dump_document(second.document) == dumped


# --- 2. never raises ---------------------------------------------------------------------------


def check_result(result: LoadResult) -> None:
    assert isinstance(result, LoadResult)
    has_errors = any(p.is_error for p in result.problems)
    assert (result.document is None) == has_errors
    for problem in result.problems:
        assert problem.path.startswith("$")
        assert problem.code[:2] in ("E-", "W-")


@given(JSON_VALUES)
def test_arbitrary_json_values(value: Any) -> None:
    text = json.dumps(value)
    check_result(load_document(text))
    check_result(load_document(text, fmt="yaml"))


@given(st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    check_result(load_document(text))
    check_result(load_document(text.encode("utf-8", "surrogatepass")))


def _positions(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_positions(item, (*prefix, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(_positions(item, (*prefix, i)))
    return out


def _parent(doc: Any, position: tuple[Any, ...]) -> Any:
    for step in position[:-1]:
        doc = doc[step]
    return doc


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict[str, Any]:
    doc = draw(documents())
    for _ in range(draw(st.integers(1, 6))):
        positions = _positions(doc)
        if not positions:
            break
        position = draw(st.sampled_from(positions))
        parent = _parent(doc, position)
        last = position[-1]
        action = draw(st.sampled_from(["delete", "rename", "recase", "swap"]))
        if isinstance(parent, dict):
            if action == "delete":
                del parent[last]
            elif action == "rename":
                parent[draw(st.text(max_size=10))] = parent.pop(last)
            elif action == "recase":
                parent[last.upper()] = parent.pop(last)
            else:
                parent[last] = draw(JSON_VALUES)
        elif isinstance(parent, list):
            if action == "delete":
                del parent[last]
            else:
                parent[last] = draw(JSON_VALUES)
    return doc


@given(mutated_documents(), st.booleans())
def test_mutated_documents(doc: dict[str, Any], strict: bool) -> None:
    text = json.dumps(doc)
    result = load_document(text, strict=strict)
    check_result(result)
    check_result(load_document(text, fmt="yaml", strict=strict))
    if result.ok:
        again = load_document(json.dumps(dump_document(result.document)))
        assert again.document == result.document
    for problem in result.problems:
        assert split_path(problem.path) is not None
