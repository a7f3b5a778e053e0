"""The static plan of a run: what the resolved document says, indexed for cheap lookups.

Built once per run from the document recorded in ``WorkflowSubmitted`` (plus the
WorkflowTemplate snapshots it recorded), so reducers and the decider never scan a
template list. Per-DAG structures (dependents, dependency counts, reachability,
effective continueOn) are computed on first use and memoised; they depend only on
the document, so the memo never changes a result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import define, frozen

from aether.events.phases import Phase
from aether.model.types import (
    ContinueOn,
    DagTask,
    DagTemplate,
    LoopTemplate,
    TaskTemplate,
    Template,
    TemplateType,
    Workflow,
)

# Template scopes: "" is the run's own document; "<name>" a referenced WorkflowTemplate.
TemplateKey = tuple[str, str]
ROOT_SCOPE = ""

FAILURE_FLAG: dict[Phase, str] = {"Failed": "failed", "Error": "error", "Timeout": "timeout"}


@frozen
class TaskTarget:
    """What a DAG task runs: a template (by key) or its own inline executor."""

    key: TemplateKey | None  # None: inline leaf
    template_name: str  # as shown on the node: "", "<t>", or "<wt>/<t>"
    template_type: TemplateType


@define
class DagPlan:
    template: DagTemplate
    scope: str
    tasks: tuple[DagTask, ...]
    index_by_name: dict[str, int]
    dependents: tuple[tuple[int, ...], ...]
    dep_count: tuple[int, ...]
    reachable: tuple[bool, ...]
    blocked_from_start: tuple[bool, ...]
    roots: tuple[int, ...]
    tolerance: tuple[frozenset[Phase], ...]  # per task: the failure phases its effective continueOn tolerates
    targets: tuple[TaskTarget, ...]

    def satisfies(self, task_index: int, phase: Phase) -> bool:
        """SPEC §7.3.2: does a dependency that ended in ``phase`` let its dependents run?"""
        if phase in ("Succeeded", "Skipped"):
            return True
        if phase == "Cancelled":
            return False
        return phase in self.tolerance[task_index]

    def tolerated(self, task_index: int, phase: Phase) -> bool:
        return phase in self.tolerance[task_index]


def _tolerance(flags: ContinueOn | None) -> frozenset[Phase]:
    if flags is None:
        return frozenset()
    out: set[Phase] = set()
    if flags.failed:
        out.add("Failed")
    if flags.error:
        out.add("Error")
    if flags.timeout:
        out.add("Timeout")
    return frozenset(out)


class RunPlan:
    """Indexes over one resolved document. Cheap to share between state versions."""

    def __init__(self, workflow: Workflow, templates_snapshot: Mapping[str, Any] | None = None) -> None:
        from aether.model.converter import structure  # local: keeps import cost off the decode path

        spec = workflow.spec
        assert spec is not None and spec.templates is not None and spec.entrypoint is not None
        self.workflow = workflow
        self.spec = spec
        self.scopes: dict[str, dict[str, Template]] = {ROOT_SCOPE: _first_wins(spec.templates)}
        for wt_name, raw_templates in (templates_snapshot or {}).items():
            templates = tuple(structure(t, Template) for t in raw_templates)
            self.scopes[wt_name] = _first_wins(templates)
        self.entry_key: TemplateKey = (ROOT_SCOPE, spec.entrypoint)
        self._dags: dict[TemplateKey, DagPlan] = {}

    # --- templates --------------------------------------------------------------------

    def template(self, key: TemplateKey) -> Template:
        return self.scopes[key[0]][key[1]]

    def kind(self, key: TemplateKey) -> TemplateType:
        kind = self.template(key).kind
        assert kind is not None
        return kind

    def task_template(self, key: TemplateKey) -> TaskTemplate:
        body = self.template(key).task
        assert body is not None
        return body

    def dag_template(self, key: TemplateKey) -> DagTemplate:
        body = self.template(key).dag
        assert body is not None
        return body

    def loop_template(self, key: TemplateKey) -> LoopTemplate:
        body = self.template(key).loop
        assert body is not None
        return body

    def resolve_name(self, scope: str, name: str) -> TemplateKey:
        """A plain template name inside ``scope`` (§13.3: names resolve in their own scope)."""
        return (scope, name)

    def target_of(self, scope: str, task: DagTask) -> TaskTarget:
        if task.template_ref is not None and task.template_ref.name and task.template_ref.template:
            ref = task.template_ref
            key = (ref.name or "", ref.template or "")
            return TaskTarget(key, f"{ref.name}/{ref.template}", self.kind(key))
        if task.template:
            key = (scope, task.template)
            return TaskTarget(key, task.template, self.kind(key))
        return TaskTarget(None, "", "task")

    def display_name(self, key: TemplateKey) -> str:
        return key[1] if key[0] == ROOT_SCOPE else f"{key[0]}/{key[1]}"

    # --- DAGs -------------------------------------------------------------------------

    def dag(self, key: TemplateKey) -> DagPlan:
        plan = self._dags.get(key)
        if plan is None:
            plan = self._build_dag(key)
            self._dags[key] = plan
        return plan

    def _build_dag(self, key: TemplateKey) -> DagPlan:
        dag = self.dag_template(key)
        tasks = dag.tasks or ()
        index_by_name: dict[str, int] = {}
        for i, task in enumerate(tasks):
            index_by_name.setdefault(task.name or "", i)
        dependents: list[list[int]] = [[] for _ in tasks]
        dep_count = [0] * len(tasks)
        for i, task in enumerate(tasks):
            seen: set[int] = set()
            for dep in task.dependencies or ():
                j = index_by_name.get(dep)
                if j is None or j in seen:
                    continue
                seen.add(j)
                dependents[j].append(i)
                dep_count[i] += 1
        reachable = _reachable(dag.entrypoints, index_by_name, dependents, len(tasks))
        blocked = [False] * len(tasks)
        for i, task in enumerate(tasks):
            if reachable[i]:
                for dep in task.dependencies or ():
                    j = index_by_name.get(dep)
                    if j is not None and not reachable[j]:
                        blocked[i] = True
        roots = tuple(i for i in range(len(tasks)) if reachable[i] and not blocked[i] and dep_count[i] == 0)
        dag_tolerance = _tolerance(dag.continue_on)
        tolerance = tuple(
            _tolerance(task.continue_on) if task.continue_on is not None else dag_tolerance for task in tasks
        )
        targets = tuple(self.target_of(key[0], task) for task in tasks)
        return DagPlan(
            template=dag,
            scope=key[0],
            tasks=tasks,
            index_by_name=index_by_name,
            dependents=tuple(tuple(d) for d in dependents),
            dep_count=tuple(dep_count),
            reachable=tuple(reachable),
            blocked_from_start=tuple(blocked),
            roots=roots,
            tolerance=tolerance,
            targets=targets,
        )


def build_plan(document: Mapping[str, Any], templates_snapshot: Mapping[str, Any] | None) -> RunPlan:
    """The plan of a run from what its ``WorkflowSubmitted`` recorded (the one way to build one,
    so a snapshot's rebuilt plan and a fold's plan cannot differ)."""
    from aether.model.converter import structure

    return RunPlan(structure(dict(document), Workflow), templates_snapshot)


def _first_wins(templates: tuple[Template, ...]) -> dict[str, Template]:
    index: dict[str, Template] = {}
    for template in templates:
        name = template.name
        if name and template.kind is not None and name not in index:
            index[name] = template
    return index


def _reachable(
    entrypoints: tuple[str, ...] | None,
    index_by_name: dict[str, int],
    dependents: list[list[int]],
    count: int,
) -> list[bool]:
    if entrypoints is None:
        return [True] * count
    reachable = [False] * count
    stack = [index_by_name[name] for name in entrypoints if name in index_by_name]
    while stack:
        i = stack.pop()
        if reachable[i]:
            continue
        reachable[i] = True
        stack.extend(dependents[i])
    return reachable
