"""DAG templates and their tasks (SPEC §2.5.1, §2.5.2, §3.3.4).

Messages of the §3.3.4 rules are prefixed ``template "<t>": ``. A check that needs
well-formed input skips only the malformed part (§3.1): unknown dependency names are
reported once and then ignored by the cycle, reachability and reference checks.
"""

from __future__ import annotations

from attrs import frozen

from aether.model.types import DagTask, DagTemplate, TemplateType
from aether.model.validate.context import Context
from aether.model.validate.expressions import check_expression, task_references
from aether.model.validate.fields import check_duration, check_phase_conditions, check_resources
from aether.model.validate.graph import Ancestors, find_cycle, reachable_from
from aether.model.validate.hooks import HookScope, check_hooks
from aether.model.validate.names import check_name
from aether.model.validate.params import Role, check_parameters
from aether.model.validate.task import check_executor, check_retry


@frozen
class _Dag:
    """What the per-task rules need to know about the whole DAG."""

    name: str
    path: str
    prefix: str
    # Task name -> index of its first declaration.
    index: dict[str, int]
    # Per task, the indexes of its known dependencies (each once, in listed order).
    dependencies: list[list[int]]
    ancestors: Ancestors


def _target_kind(ctx: Context, task: DagTask) -> TemplateType | None:
    """``task``, ``dag`` or ``loop`` for the template a task runs; ``None`` when unknown."""
    if task.template:
        template = ctx.templates.get(task.template)
        return template.kind if template is not None else None
    if task.template_ref is not None:
        if ctx.refs is None:
            return None
        target = ctx.refs.target(task.template_ref)
        return target.kind if target is not None else None
    if task.executor is not None:
        return "task"
    return None


# Executors whose usual failure is a non-zero exit status, i.e. phase Failed (SPEC §14.3).
_EXIT_STATUS_EXECUTORS = ("shell", "script")


def _executor_type(ctx: Context, task: DagTask) -> str | None:
    """The executor type a task runs: its inline executor's, or its local task template's."""
    if task.template:
        template = ctx.templates.get(task.template)
        body = template.task if template is not None else None
        return body.executor.type if body is not None and body.executor is not None else None
    if task.template_ref is None and task.executor is not None:
        return task.executor.type
    return None


def _check_retried_exit_codes(ctx: Context, task: DagTask, path: str) -> None:
    """A retry limit without an expression retries only Error and Timeout (SPEC §9.1 rule 4):
    a shell command that exits non-zero ends Failed and is not retried, which a user used to
    other engines does not expect."""
    retry = task.retry
    if retry is None or not retry.limit or retry.limit <= 0 or (retry.expression or "").strip():
        return
    kind = _executor_type(ctx, task)
    if kind in _EXIT_STATUS_EXECUTORS:
        ctx.warn(
            "W-RETRY-NOT-FAILED",
            f"{path}.retry",
            f'task "{task.name or ""}": retry without an expression retries only Error and Timeout, not a '
            f'{kind} command that exits non-zero (Failed); add expression: "true" to retry every failure',
        )


def _target_label(task: DagTask) -> str:
    if task.template:
        return task.template
    ref = task.template_ref
    assert ref is not None
    return f"{ref.name or ''}/{ref.template or ''}"


def _check_target(ctx: Context, dag: _Dag, task: DagTask, path: str, kind: TemplateType | None) -> None:
    name = task.name or ""
    prefix = dag.prefix
    has_ref = task.template_ref is not None
    if not task.template and not has_ref and task.executor is None:
        ctx.error("E-TASK-TARGET-REQUIRED", path, f'{prefix}task "{name}": either template or executor is required')
        return
    if task.template and has_ref:
        message = f'task "{name}": template and templateRef are mutually exclusive'
        ctx.error("E-TASK-TEMPLATE-AND-REF", path, prefix + message)
    if task.template and ctx.unknown_template(task.template):
        message = f'task "{name}" references unknown template "{task.template}"'
        ctx.error("E-TEMPLATE-UNKNOWN", f"{path}.template", prefix + message)
    if task.template_ref is not None and ctx.refs is not None:
        for problem in ctx.refs.check(task.template_ref, f"{path}.templateRef"):
            ctx.error(problem.code, problem.path, problem.message)
    if not task.template and not has_ref:
        assert task.executor is not None
        check_executor(ctx, task.executor, f"{path}.executor", dag.name)
        return
    if task.executor is not None:
        message = f'task "{name}": executor is ignored because template is set'
        ctx.warn("W-TASK-TEMPLATE-AND-EXECUTOR", f"{path}.executor", prefix + message)
    _check_call_site_fields(ctx, dag, task, path, kind)


def _check_call_site_fields(ctx: Context, dag: _Dag, task: DagTask, path: str, kind: TemplateType | None) -> None:
    """Fields of a task with ``template``/``templateRef`` that only an inline leaf uses."""
    name = task.name or ""
    target = _target_label(task)
    prefix = dag.prefix
    if task.phase_conditions is not None and not task.phase_conditions.is_empty:
        if kind in ("dag", "loop"):
            message = (
                f'task "{name}": phaseConditions is not allowed when template "{target}" '
                f"resolves to a {kind}; "
                f'declare phaseConditions on the {kind} template "{target}" instead'
            )
        else:
            message = (
                f'task "{name}": phaseConditions is not allowed on a task template call site; '
                f'declare it on task template "{target}" instead'
            )
        ctx.error("E-PHASECOND-CALLSITE", f"{path}.phaseConditions", prefix + message)
    for attr, wire in (("inputs", "inputs"), ("outputs", "outputs"), ("resources", "resources")):
        if getattr(task, attr) is not None:
            message = f'{wire} is ignored here: task "{name}" runs template "{target}"'
            ctx.warn("W-CALLSITE-FIELD-IGNORED", f"{path}.{wire}", prefix + message)
    if task.retry is not None and kind in ("dag", "loop"):
        message = f'retry is ignored here: template "{target}" is a {kind}, and only leaves retry'
        ctx.warn("W-CALLSITE-FIELD-IGNORED", f"{path}.retry", prefix + message)


def _check_dependencies(ctx: Context, dag: _Dag, task: DagTask, path: str) -> None:
    name = task.name or ""
    seen: set[str] = set()
    for k, dep in enumerate(task.dependencies or ()):
        dep_path = f"{path}.dependencies[{k}]"
        if dep not in dag.index:
            message = f'task "{name}" depends on unknown task "{dep}"'
            ctx.error("E-DEP-UNKNOWN", dep_path, dag.prefix + message)
        elif dep in seen:
            message = f'task "{name}" lists dependency "{dep}" twice'
            ctx.warn("W-DEP-DUPLICATE", dep_path, dag.prefix + message)
        seen.add(dep)


def _check_reads(
    ctx: Context, dag: _Dag, task_index: int, name: str, text: str | None, path: str, own_only: bool = False
) -> None:
    """W-REF-NOT-UPSTREAM for each ``tasks.<x>`` read in ``text``. A ``when`` or argument
    may read transitive dependencies; a retry expression only the task itself."""
    if not text or "tasks." not in text:
        return
    for ref in task_references(text):
        other = dag.index.get(ref)
        if other is None:
            ctx.warn("W-REF-NOT-UPSTREAM", path, f"{dag.prefix}tasks.{ref} does not name a task of this DAG")
            continue
        if own_only:
            allowed = other == task_index
        else:
            allowed = other in dag.dependencies[task_index] or other in dag.ancestors.of(task_index)
        if not allowed:
            message = f'task "{name}" reads tasks.{ref}, which is not one of its dependencies'
            ctx.warn("W-REF-NOT-UPSTREAM", path, dag.prefix + message)


def _check_arguments_reads(ctx: Context, dag: _Dag, task_index: int, task: DagTask, path: str) -> None:
    arguments = task.arguments
    if arguments is None:
        return
    for i, param in enumerate(arguments.parameters):
        value_from = param.value_from
        if value_from is None:
            continue
        vf_path = f"{path}.arguments.parameters[{i}].valueFrom"
        for wire, text in (
            ("path", value_from.path),
            ("parameter", value_from.parameter),
            ("expression", value_from.expression),
        ):
            _check_reads(ctx, dag, task_index, task.name or "", text, f"{vf_path}.{wire}")


def _check_task(ctx: Context, dag: _Dag, j: int, task: DagTask) -> None:
    path = f"{dag.path}.tasks[{j}]"
    name = task.name or ""
    check_name(ctx, task.name, f"{path}.name", "task name", "task.name is required")
    _check_dependencies(ctx, dag, task, path)
    kind = _target_kind(ctx, task)
    _check_target(ctx, dag, task, path, kind)
    check_parameters(ctx, task.arguments, f"{path}.arguments", Role.ARGUMENTS)
    _check_arguments_reads(ctx, dag, j, task, path)
    check_expression(ctx, task.when, f"{path}.when")
    _check_reads(ctx, dag, j, name, task.when, f"{path}.when")
    check_duration(ctx, task.timeout, f"{path}.timeout")
    if task.retry is not None:
        check_retry(ctx, task.retry, f"{path}.retry")
        _check_retried_exit_codes(ctx, task, path)
        check_expression(ctx, task.retry.expression, f"{path}.retry.expression")
        _check_reads(ctx, dag, j, name, task.retry.expression, f"{path}.retry.expression", own_only=True)
    inline = not task.template and task.template_ref is None
    if inline:
        check_parameters(ctx, task.inputs, f"{path}.inputs", Role.INLINE_INPUTS)
        check_parameters(ctx, task.outputs, f"{path}.outputs", Role.OUTPUTS)
        check_resources(ctx, task.resources, f"{path}.resources")
        check_phase_conditions(ctx, task.phase_conditions, f"{path}.phaseConditions")
    scope = HookScope.CONTAINER_CALL_SITE if kind in ("dag", "loop") else HookScope.LEAF_CALL_SITE
    check_hooks(ctx, task.hooks, f"{path}.hooks", f'template "{dag.name}" task "{name}" hooks', scope)


def _check_entrypoints(ctx: Context, dag: _Dag, template: DagTemplate) -> None:
    entrypoints = template.entrypoints
    if entrypoints is None:
        return
    path = f"{dag.path}.entrypoints"
    if not entrypoints:
        message = "entrypoints is empty; no task of this DAG will run"
        ctx.warn("W-DAG-ENTRYPOINTS-EMPTY", path, dag.prefix + message)
    starts: list[int] = []
    for k, entry in enumerate(entrypoints):
        found = dag.index.get(entry)
        if found is None:
            message = f'entrypoint "{entry}" references unknown task'
            ctx.error("E-DAG-ENTRYPOINT-UNKNOWN", f"{path}[{k}]", dag.prefix + message)
        else:
            starts.append(found)
    reachable = reachable_from(starts, dag.dependencies)
    tasks = template.tasks or ()
    for j in sorted(reachable):
        task = tasks[j]
        for k, dep in enumerate(task.dependencies or ()):
            found = dag.index.get(dep)
            if found is not None and found not in reachable:
                name = task.name or ""
                message = f'task "{name}" depends on "{dep}", which entrypoints never reach; '
                message += f'"{name}" will never run'
                dep_path = f"{dag.path}.tasks[{j}].dependencies[{k}]"
                ctx.warn("W-DAG-UNREACHABLE-DEP", dep_path, dag.prefix + message)


def _build(template: DagTemplate, path: str) -> _Dag:
    name = template.name or ""
    tasks = template.tasks or ()
    index: dict[str, int] = {}
    for j, task in enumerate(tasks):
        if task.name and task.name not in index:
            index[task.name] = j
    dependencies: list[list[int]] = []
    for task in tasks:
        known: list[int] = []
        for dep in task.dependencies or ():
            found = index.get(dep)
            if found is not None and found not in known:
                known.append(found)
        dependencies.append(known)
    return _Dag(name, path, f'template "{name}": ', index, dependencies, Ancestors(dependencies))


def check_dag_template(ctx: Context, template: DagTemplate, path: str) -> None:
    dag = _build(template, path)
    tasks = template.tasks or ()
    tasks_path = f"{path}.tasks"
    if not tasks:
        ctx.error("E-DAG-TASKS-EMPTY", tasks_path, dag.prefix + "dag.tasks must not be empty")
    limit = ctx.limits.tasks_per_dag
    if len(tasks) > limit:
        ctx.error("E-DAG-TASKS-LIMIT", tasks_path, f"{dag.prefix}{len(tasks)} tasks; the limit is {limit}")
    for j, task in enumerate(tasks):
        if task.name and dag.index[task.name] != j:
            message = f'duplicate task name "{task.name}"'
            ctx.error("E-TASK-NAME-DUPLICATE", f"{tasks_path}[{j}].name", dag.prefix + message)
        _check_task(ctx, dag, j, task)
    cycle = find_cycle(dag.dependencies)
    if cycle is not None:
        names = " -> ".join(tasks[i].name or "" for i in cycle)
        ctx.error("E-DAG-CYCLE", tasks_path, f"{dag.prefix}dag contains a cycle: {names}")
    _check_entrypoints(ctx, dag, template)
    check_parameters(ctx, template.inputs, f"{path}.inputs", Role.TEMPLATE_INPUTS, dag.name)
    check_parameters(ctx, template.outputs, f"{path}.outputs", Role.OUTPUTS, dag.name)
    check_phase_conditions(ctx, template.phase_conditions, f"{path}.phaseConditions")
    check_duration(ctx, template.timeout, f"{path}.timeout")
