"""Hypothesis strategies for random, valid ``aether/v1`` Workflow documents.

A document is built in wire form (a JSON-ready ``dict``) from a budget of tasks and a
nesting depth, so it stays small: at most ``max_tasks`` task slots (DAG tasks, loop
bodies and a task entry point) and the §3.3.9 nesting limit of 3 (containers at
template depth <= 2, leaves at depth <= 3). It exercises what the scheduler has rules
for: DAGs with random acyclic dependencies (declared in a shuffled order), ``entrypoints``,
``when``, ``continueOn`` (DAG-wide and per task), retries (limit, optional expression,
optional backoff), inline leaves and shared task templates, nested DAGs and loops
(``items``, ``itemsFrom`` over a static list input, ``repeatCondition`` with
``maxIterations``, ``concurrency``), task and container timeouts, a workflow timeout,
and workflow and task hooks.

Leaves run the ``echo`` executor (with its control inputs ``fail-count``, ``suspend``
and ``outputs``) or the executor type ``test``, whose outcome a test chooses.

Every generated document is checked with ``load_document``: a strategy that produced an
invalid document is a bug in this file, and fails loudly.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import strategies as st

from aether import model
from aether.expr import check_expression
from aether.model import LoadResult

JSON = Any

EXECUTOR_TYPES = ("echo", "test")
MAX_CONTAINER_DEPTH = 2  # with maxNestedDepth 3: DAG -> DAG -> loop -> task
MAX_LEAF_DEPTH = 3
HOOK_TEMPLATE = "hook"
LEAF_HOOKS = ("onStart", "onSuccess", "onFailure", "onError", "onSuspend", "onResume", "onCancel", "onExit")
CONTAINER_HOOKS = ("onCancel", "onExit")  # the only ones a dag/loop call site fires (§11.5)
WORKFLOW_HOOKS = ("onStart", "onSuccess", "onFailure", "onError", "onCancel", "onExit")

TASK_TIMEOUTS = ("1s", "2s", "5s")
CONTAINER_TIMEOUTS = ("3s", "10s")
WORKFLOW_TIMEOUTS = ("20s", "1m", "1h")


# --- SPEC §6.4 transition tables, transcribed (shared by the property tests) ----------------
# Written from the SPEC text, independently of ``aether/reducers/phases.py``.

TERMINAL = frozenset({"Succeeded", "Failed", "Error", "Timeout", "Cancelled", "Skipped"})
RESULTS = ("Succeeded", "Failed", "Error", "Timeout")
ALL_PHASES = ("Created", "Ready", "Running", "Suspended", *sorted(TERMINAL))
LEAF_NON_TERMINAL = ("Created", "Ready", "Running", "Suspended")
CONTAINER_NON_TERMINAL = ("Created", "Ready", "Running")
INITIAL_PHASES = frozenset({"Created", "Skipped"})


def _pairs(rows: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> frozenset[tuple[str, str]]:
    return frozenset((a, b) for sources, targets in rows for a in sources for b in targets)


SPEC_LEAF_EDGES = _pairs(
    [
        (("Created",), ("Ready", "Error")),  # dispatched / cannot be dispatched
        (("Ready",), ("Running",)),  # start accepted
        (("Running",), RESULTS),  # result, no retry
        (("Ready", "Running", "Suspended"), RESULTS),  # task deadline, no retry
        (("Running",), ("Suspended",)),  # result phase Suspended
        (("Running", "Suspended", "Ready"), ("Ready",)),  # retry without delay ("unchanged if Ready")
        (("Running", "Suspended", "Ready"), ("Created",)),  # retry with backoff
        (("Suspended",), ("Ready",)),  # resume accepted
        (LEAF_NON_TERMINAL, ("Cancelled", "Timeout")),  # cancel, deadlines
    ]
)
SPEC_CONTAINER_EDGES = _pairs(
    [
        (("Created",), ("Ready",)),
        (("Ready",), ("Running",)),
        (CONTAINER_NON_TERMINAL, ("Succeeded", "Failed", "Error", "Cancelled")),  # finalization
        (CONTAINER_NON_TERMINAL, ("Error",)),  # loop expansion / repeatCondition failed
        (CONTAINER_NON_TERMINAL, ("Cancelled", "Timeout")),
    ]
)
SPEC_RUN_EDGES = _pairs(
    [
        (("Created",), ("Ready",)),
        (("Ready",), ("Running",)),
        (("Created", "Ready", "Running"), ("Succeeded", "Failed", "Error", "Cancelled")),  # mapped phase
        (("Created", "Ready", "Running"), ("Cancelled", "Timeout", "Error")),
    ]
)


def spec_allows(template_type: str, before: str, after: str) -> bool:
    """Is ``before -> after`` an edge of SPEC §6.4 for a node of ``template_type``?"""
    edges = SPEC_LEAF_EDGES if template_type == "task" else SPEC_CONTAINER_EDGES
    return (before, after) in edges


# SPEC §7.7: the run phase for the entry node's terminal phase.
RUN_PHASE_OF_ENTRY = {
    "Succeeded": "Succeeded",
    "Skipped": "Succeeded",
    "Failed": "Failed",
    "Error": "Error",
    "Timeout": "Error",
    "Cancelled": "Cancelled",
}


def aggregate(child_phases: list[tuple[str, frozenset[str]]]) -> str:
    """SPEC §7.6 base phase over (child phase, failure phases its continueOn tolerates)."""
    if any(phase == "Cancelled" for phase, _ in child_phases):
        return "Cancelled"
    if any(phase in ("Error", "Timeout") and phase not in ok for phase, ok in child_phases):
        return "Error"
    if any(phase == "Failed" and phase not in ok for phase, ok in child_phases):
        return "Failed"
    return "Succeeded"


def tolerance(flags: dict[str, bool] | None) -> frozenset[str]:
    """The failure phases a wire-form continueOn tolerates."""
    flags = flags or {}
    names = {"failed": "Failed", "error": "Error", "timeout": "Timeout"}
    return frozenset(phase for key, phase in names.items() if flags.get(key))


def satisfies(phase: str, tolerated: frozenset[str]) -> bool:
    """SPEC §7.3.2: does a terminal dependency in ``phase`` let its dependents run?"""
    if phase in ("Succeeded", "Skipped"):
        return True
    if phase == "Cancelled":
        return False
    return phase in tolerated


def _maybe(draw: st.DrawFn, probability: float) -> bool:
    """True with roughly ``probability`` (in steps of 1/20, so it shrinks to False)."""
    return draw(st.integers(0, 19)) < round(probability * 20)


class _Builder:
    def __init__(self, draw: st.DrawFn, max_tasks: int, executors: tuple[str, ...]) -> None:
        self.draw = draw
        self.budget = max_tasks
        self.executors = executors
        self.templates: list[dict[str, JSON]] = []
        self.shared_leaves: list[str] = []
        self.counter = 0
        self.uses_hooks = False
        self.has_flag = False

    # --- helpers --------------------------------------------------------------------------

    def new_name(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}-{self.counter}"

    def take(self, n: int = 1) -> bool:
        if self.budget < n:
            return False
        self.budget -= n
        return True

    def hooks(self, keys: tuple[str, ...], probability: float) -> dict[str, JSON] | None:
        draw = self.draw
        if not _maybe(draw, probability):
            return None
        chosen = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=len(keys), unique=True))
        self.uses_hooks = True
        return {key: {"template": HOOK_TEMPLATE} for key in keys if key in chosen}

    # --- leaves ---------------------------------------------------------------------------

    def leaf_body(self) -> dict[str, JSON]:
        """Executor, inputs, outputs and timeout of a leaf (template or inline node)."""
        draw = self.draw
        executor = draw(st.sampled_from(self.executors))
        body: dict[str, JSON] = {"executor": {"type": executor}}
        params: list[dict[str, JSON]] = []
        if executor == "echo":
            if _maybe(draw, 0.25):
                params.append({"name": "fail-count", "value": draw(st.integers(1, 2))})
            if _maybe(draw, 0.15):
                params.append({"name": "suspend", "value": True})
            if _maybe(draw, 0.4):
                value = draw(st.sampled_from(["ok", "bad"]))
                params.append({"name": "outputs", "value": [{"name": "status", "type": "string", "value": value}]})
        elif _maybe(draw, 0.3):
            params.append({"name": "x", "value": draw(st.integers(0, 3))})
        if params:
            body["inputs"] = {"parameters": params}
        if _maybe(draw, 0.25):
            body["outputs"] = {"parameters": [{"name": "status", "type": "string", "value": "none"}]}
        return body

    def task_template(self, depth: int) -> str:
        """A task template: a shared one, or a new one (possibly shared later)."""
        draw = self.draw
        if self.shared_leaves and _maybe(draw, 0.5):
            return draw(st.sampled_from(self.shared_leaves))
        name = self.new_name("task")
        body: dict[str, JSON] = {"name": name, **self.leaf_body()}
        if _maybe(draw, 0.2):
            body["timeout"] = draw(st.sampled_from(TASK_TIMEOUTS))
        self.templates.append({"task": body})
        self.shared_leaves.append(name)
        del depth
        return name

    # --- containers -----------------------------------------------------------------------

    def template(self, kind: str, depth: int) -> str:
        if kind == "dag":
            return self.dag_template(depth)
        if kind == "loop":
            return self.loop_template(depth)
        return self.task_template(depth)

    def child_kind(self, depth: int) -> str:
        """The kind of a template visited at ``depth`` (a DAG task target or a loop body)."""
        if depth > MAX_CONTAINER_DEPTH or self.budget < 3:
            return "task"
        return self.draw(st.sampled_from(["task", "task", "task", "dag", "loop"]))

    def when_expression(self, deps: list[str]) -> str:
        draw = self.draw
        options = ["true", "false", "len(1) > 0"]  # the last one fails at run time: Skipped
        if self.has_flag:
            options += ["workflow.parameters.flag == true", "!workflow.parameters.flag"]
        for dep in deps:
            options += [
                f"tasks.{dep}.phase == 'Succeeded'",
                f"tasks.{dep}.phase != 'Failed'",
                f"{{{{tasks.{dep}.phase}}}} == Succeeded",
                f"tasks.{dep}.outputs.parameters.status == 'ok'",
            ]
        return draw(st.sampled_from(options))

    def continue_on(self) -> dict[str, bool]:
        draw = self.draw
        flags = draw(st.fixed_dictionaries({}, optional={k: st.booleans() for k in ("failed", "error", "timeout")}))
        return flags

    def retry(self) -> dict[str, JSON]:
        draw = self.draw
        retry: dict[str, JSON] = {"limit": draw(st.sampled_from([1, 2, 1, 0]))}
        if _maybe(draw, 0.4):
            retry["expression"] = draw(
                st.sampled_from(["phase == 'Failed'", "code == 2", "retryCount < 1", "phase != 'Succeeded'", "true"])
            )
        if _maybe(draw, 0.2):
            backoff: dict[str, JSON] = {"duration": draw(st.sampled_from(["500ms", "1s"]))}
            if _maybe(draw, 0.5):
                backoff["factor"] = 2
            retry["backoff"] = backoff
        return retry

    def dag_template(self, depth: int) -> str:
        draw = self.draw
        name = self.new_name("dag")
        count = draw(st.integers(1, max(1, min(5, self.budget))))
        self.take(count)
        names = [f"t{i}" for i in range(count)]
        # Dependencies only point to tasks earlier in a topological order: acyclic.
        deps_of: dict[str, list[str]] = {}
        for i, task_name in enumerate(names):
            deps_of[task_name] = draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=3)) if i else []
        declared = draw(st.permutations(names))
        template: dict[str, JSON] = {"name": name}
        tasks: list[dict[str, JSON]] = []
        for task_name in declared:
            deps = deps_of[task_name]
            task: dict[str, JSON] = {"name": task_name}
            if deps:
                task["dependencies"] = deps
            kind = self.child_kind(depth + 1)
            if kind == "task" and _maybe(draw, 0.5):
                task.update(self.leaf_body())
            else:
                task["template"] = self.template(kind, depth + 1)
            if _maybe(draw, 0.3):
                task["when"] = self.when_expression(deps)
            if _maybe(draw, 0.3):
                task["continueOn"] = self.continue_on()
            if kind == "task":
                if _maybe(draw, 0.45):
                    task["retry"] = self.retry()
                if _maybe(draw, 0.2):
                    task["timeout"] = draw(st.sampled_from(TASK_TIMEOUTS))
                hooks = self.hooks(LEAF_HOOKS, 0.15)
            else:
                if _maybe(draw, 0.15):
                    task["timeout"] = draw(st.sampled_from(CONTAINER_TIMEOUTS))
                hooks = self.hooks(CONTAINER_HOOKS, 0.15)
            if hooks:
                task["hooks"] = hooks
            if _maybe(draw, 0.15):
                task["arguments"] = {"parameters": [{"name": "extra", "value": draw(st.integers(0, 9))}]}
            tasks.append(task)
        template["tasks"] = tasks
        if _maybe(draw, 0.3):
            template["continueOn"] = self.continue_on()
        if _maybe(draw, 0.1):
            template["entrypoints"] = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
        if _maybe(draw, 0.1):
            template["timeout"] = draw(st.sampled_from(CONTAINER_TIMEOUTS))
        self.templates.append({"dag": template})
        return name

    def loop_template(self, depth: int) -> str:
        draw = self.draw
        name = self.new_name("loop")
        self.take(1)
        body_kind = self.child_kind(depth + 1)
        body = self.template(body_kind, depth + 1)
        loop: dict[str, JSON] = {"name": name, "body": body}
        item = st.one_of(
            st.integers(0, 9), st.sampled_from(["a", "b"]), st.fixed_dictionaries({"k": st.integers(0, 3)})
        )
        mode = draw(st.sampled_from(["items", "itemsFrom", "repeat"]))
        if mode == "items":
            loop["items"] = draw(st.lists(item, min_size=1, max_size=3))
        elif mode == "itemsFrom":
            values = draw(st.lists(item, min_size=0, max_size=3))
            loop["inputs"] = {"parameters": [{"name": "list", "value": values}]}
            loop["itemsFrom"] = draw(st.sampled_from(["{{inputs.parameters.list}}", "inputs.parameters.list"]))
        else:
            loop["repeatCondition"] = draw(
                st.sampled_from(
                    [
                        "loop_iter.index < 1",
                        "true",
                        "false",
                        f"tasks.{body}.phase != 'Succeeded'",
                        "loop_iter.index < 2",
                    ]
                )
            )
            loop["maxIterations"] = draw(st.integers(1, 3))
        if mode != "repeat":
            if _maybe(draw, 0.4):
                loop["concurrency"] = draw(st.integers(0, 2))
            if _maybe(draw, 0.2):
                loop["maxIterations"] = draw(st.integers(1, 2))
        if _maybe(draw, 0.2):
            loop["aggregate"] = {"strategy": draw(st.sampled_from(["last", "first", "list"]))}
        if _maybe(draw, 0.1):
            loop["timeout"] = draw(st.sampled_from(CONTAINER_TIMEOUTS))
        self.templates.append({"loop": loop})
        return name


@st.composite
def workflows(
    draw: st.DrawFn,
    *,
    max_tasks: int = 12,
    executors: tuple[str, ...] = EXECUTOR_TYPES,
) -> dict[str, JSON]:
    """A valid ``aether/v1`` Workflow document in wire form (a JSON-ready dict)."""
    builder = _Builder(draw, max_tasks, executors)
    builder.has_flag = _maybe(draw, 0.3)
    entry_kind = draw(st.sampled_from(["dag", "dag", "dag", "dag", "loop", "task"]))
    if entry_kind == "task":
        builder.take(1)
    entry = builder.template(entry_kind, 0)
    spec: dict[str, JSON] = {"entrypoint": entry}
    if builder.has_flag:
        spec["arguments"] = {"parameters": [{"name": "flag", "value": draw(st.booleans())}]}
    if _maybe(draw, 0.25):
        spec["timeout"] = draw(st.sampled_from(WORKFLOW_TIMEOUTS))
    workflow_hooks = builder.hooks(WORKFLOW_HOOKS, 0.3)
    if workflow_hooks:
        spec["hooks"] = workflow_hooks
    templates = list(reversed(builder.templates))  # the entry (built last) first
    if builder.uses_hooks:
        templates.append({"task": {"name": HOOK_TEMPLATE, "executor": {"type": "echo"}}})
    spec["templates"] = templates
    document = {
        "apiVersion": "aether/v1",
        "kind": "Workflow",
        "metadata": {"name": "prop"},
        "spec": spec,
    }
    assert_valid(document)
    return document


def load_document(text: str | bytes, **kwargs: Any) -> LoadResult:
    """:func:`aether.model.load_document` with the real expression checks (the model
    takes them from its caller) unless ``expression_check`` is given."""
    kwargs.setdefault("expression_check", check_expression)
    return model.load_document(text, **kwargs)


def assert_valid(document: dict[str, JSON]) -> None:
    """The document loads with no error (warnings are allowed)."""
    result = load_document(orjson.dumps(document), fmt="json")
    errors = [f"{p.path}: {p.code}: {p.message}" for p in result.errors]
    assert result.ok and not errors, f"generator produced an invalid document: {errors}\n{document}"


def task_count(document: dict[str, JSON]) -> int:
    """Task slots of a document: DAG tasks, loop bodies and a task entry point."""
    templates = document["spec"]["templates"]
    count = 0
    for template in templates:
        if "dag" in template:
            count += len(template["dag"]["tasks"])
        elif "loop" in template:
            count += 1
    entry = document["spec"]["entrypoint"]
    if any("task" in t and t["task"]["name"] == entry for t in templates):
        count += 1
    return count


def nesting_depth(document: dict[str, JSON]) -> int:
    """The deepest template visit of the §3.3.9 walk from the entry point."""
    by_name = {}
    for template in document["spec"]["templates"]:
        ((kind, body),) = template.items()
        by_name.setdefault(body["name"], (kind, body))

    def walk(name: str, depth: int) -> int:
        kind, body = by_name[name]
        if kind == "task":
            return depth
        if kind == "loop":
            return walk(body["body"], depth + 1)
        deepest = depth
        for task in body["tasks"]:
            deepest = max(deepest, walk(task["template"], depth + 1) if "template" in task else depth + 1)
        return deepest

    return walk(document["spec"]["entrypoint"], 0)


__all__ = [
    "ALL_PHASES",
    "EXECUTOR_TYPES",
    "HOOK_TEMPLATE",
    "INITIAL_PHASES",
    "RUN_PHASE_OF_ENTRY",
    "SPEC_CONTAINER_EDGES",
    "SPEC_LEAF_EDGES",
    "SPEC_RUN_EDGES",
    "TERMINAL",
    "aggregate",
    "assert_valid",
    "nesting_depth",
    "satisfies",
    "spec_allows",
    "task_count",
    "tolerance",
    "workflows",
]
