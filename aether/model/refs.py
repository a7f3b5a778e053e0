"""Template references (SPEC §13, Extension): ``spec.workflowTemplateRef`` merges and
``templateRef`` targets on DAG tasks, resolved once at submit through a lookup.

The lookup is the caller's (a store read in the shell); this module only asks it for
``(namespace, name)``, each at most once per load, and records every WorkflowTemplate
it got so the run can keep a snapshot of their templates (§13.4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import evolve

from aether.model.converter import unstructure
from aether.model.defaults import DEFAULT_NAMESPACE
from aether.model.index import index_templates
from aether.model.problems import Problem, error
from aether.model.types import (
    CronWorkflow,
    CronWorkflowSpec,
    DagTask,
    Hooks,
    ParameterBlock,
    Template,
    TemplateRef,
    Workflow,
    WorkflowSpec,
    WorkflowTemplate,
)

TemplateLookup = Callable[[str, str], WorkflowTemplate | None]


def no_templates(namespace: str, name: str) -> WorkflowTemplate | None:
    """The lookup of a store that holds no WorkflowTemplate: every reference is missing.

    A submission always resolves its references (§13.4); without a store, this is the
    store it resolves them against, so a reference can never reach a run unresolved."""
    del namespace, name
    return None


def snapshot_key(run_namespace: str, namespace: str, name: str) -> str:
    """The key of a WorkflowTemplate in a run's templates snapshot.

    ``templateRef`` names a WorkflowTemplate of the run's own namespace by its name alone
    (§13.3), so those are keyed by name, which is what a run's plan looks them up by. A
    ``workflowTemplateRef`` may name another namespace; such a template is keyed
    ``<namespace>/<name>`` (a ``/`` never occurs in a DNS-1123 name, so keys cannot clash).
    """
    return name if namespace == run_namespace else f"{namespace}/{name}"


def run_namespace(workflow: Workflow | WorkflowTemplate | CronWorkflow) -> str:
    metadata = workflow.metadata
    return (metadata.namespace if metadata is not None else None) or DEFAULT_NAMESPACE


class TemplateRefs:
    """WorkflowTemplates fetched through a lookup, each fetched at most once."""

    def __init__(self, lookup: TemplateLookup, namespace: str) -> None:
        self._lookup = lookup
        self.namespace = namespace
        self._fetched: dict[tuple[str, str], WorkflowTemplate | None] = {}
        self._indexes: dict[tuple[str, str], dict[str, Template]] = {}

    def fetch(self, namespace: str, name: str) -> WorkflowTemplate | None:
        key = (namespace, name)
        if key not in self._fetched:
            found = self._lookup(namespace, name) if name else None
            if found is not None and found.spec is None:
                found = None
            self._fetched[key] = found
            if found is not None:
                assert found.spec is not None
                self._indexes[key] = index_templates(found.spec.templates)
                # Templates of a WorkflowTemplate may reference others (§13.3); the run
                # needs all of them in its snapshot.
                for template in found.spec.templates or ():
                    for ref in _template_refs(template):
                        self.fetch(self.namespace, ref.name or "")
        return self._fetched[key]

    def templates_of(self, name: str) -> dict[str, Template] | None:
        """Name -> template of WorkflowTemplate ``name`` in the run's namespace."""
        if self.fetch(self.namespace, name) is None:
            return None
        return self._indexes[(self.namespace, name)]

    def target(self, ref: TemplateRef) -> Template | None:
        templates = self.templates_of(ref.name or "")
        if templates is None:
            return None
        return templates.get(ref.template or "")

    def check(self, ref: TemplateRef, path: str) -> list[Problem]:
        """E-TEMPLATE-REF-NOT-FOUND / E-TEMPLATE-REF-TEMPLATE for one ``templateRef``."""
        name = ref.name or ""
        templates = self.templates_of(name)
        if templates is None:
            return [error("E-TEMPLATE-REF-NOT-FOUND", path, f'templateRef "{name}" not found')]
        template = ref.template or ""
        if template not in templates:
            message = f'templateRef "{name}/{template}": template not found'
            return [error("E-TEMPLATE-REF-TEMPLATE", f"{path}.template", message)]
        return []

    def snapshot(self) -> dict[str, Any]:
        """Wire-form templates of every WorkflowTemplate used, by :func:`snapshot_key`."""
        out: dict[str, Any] = {}
        for (namespace, name), found in self._fetched.items():
            if found is not None and found.spec is not None:
                key = snapshot_key(self.namespace, namespace, name)
                out[key] = [unstructure(t) for t in found.spec.templates or ()]
        return out


def unresolved_references(document: Workflow | WorkflowTemplate | CronWorkflow) -> tuple[str, ...]:
    """The references a document makes, as messages name them: what a load without a
    lookup leaves unchecked (``workflowTemplateRef "<ns>/<name>"``, ``templateRef "<name>/<template>"``)."""
    spec = document.spec
    if isinstance(spec, CronWorkflowSpec):
        spec = spec.workflow_spec
    if not isinstance(spec, WorkflowSpec):
        return ()
    found: list[str] = []
    spec_ref = spec.workflow_template_ref
    if spec_ref is not None:
        namespace = spec_ref.namespace or run_namespace(document)
        found.append(f'workflowTemplateRef "{namespace}/{spec_ref.name or ""}"')
    for template in spec.templates or ():
        for ref in _template_refs(template):
            found.append(f'templateRef "{ref.name or ""}/{ref.template or ""}"')
    return tuple(dict.fromkeys(found))


def _template_refs(template: Template) -> list[TemplateRef]:
    dag = template.dag
    if dag is None:
        return []
    return [task.template_ref for task in dag.tasks or () if task.template_ref is not None]


def _set(value: Any) -> bool:
    # "The Workflow's value if set": empty strings and zeros count as absent (§2.4).
    return value is not None and value != "" and value != 0


def _merge_parameters(own: ParameterBlock | None, base: ParameterBlock | None) -> ParameterBlock | None:
    if base is None or not base.parameters:
        return own
    own_params = own.parameters if own is not None else ()
    by_name = {p.name: p for p in own_params}
    base_names = {p.name for p in base.parameters}
    merged = [by_name.get(p.name, p) for p in base.parameters]
    merged.extend(p for p in own_params if p.name not in base_names)
    artifacts = own.artifacts if own is not None else ()
    return ParameterBlock(parameters=tuple(merged), artifacts=artifacts)


def _merge_hooks(own: Hooks | None, base: Hooks | None) -> Hooks | None:
    if base is None:
        return own
    if own is None:
        return base
    names = [a.name for a in Hooks.__attrs_attrs__]
    return Hooks(**{n: getattr(own, n) if getattr(own, n) is not None else getattr(base, n) for n in names})


def merge_spec(own: WorkflowSpec, base: WorkflowSpec) -> WorkflowSpec:
    """SPEC §13.2: fill the Workflow's spec from a WorkflowTemplate's. The result has no
    ``workflowTemplateRef``: it is the resolved spec a run records."""
    own_templates = own.templates or ()
    own_names = {t.name for t in own_templates if t.name}
    templates = own_templates + tuple(t for t in base.templates or () if t.name not in own_names)
    return WorkflowSpec(
        entrypoint=own.entrypoint if _set(own.entrypoint) else base.entrypoint,
        templates=templates or None,
        arguments=_merge_parameters(own.arguments, base.arguments),
        timeout=own.timeout if _set(own.timeout) else base.timeout,
        priority=own.priority if _set(own.priority) else base.priority,
        max_nested_depth=own.max_nested_depth if _set(own.max_nested_depth) else base.max_nested_depth,
        hooks=_merge_hooks(own.hooks, base.hooks),
        workflow_template_ref=None,
    )


def resolve_spec_ref(
    spec: WorkflowSpec, namespace: str, refs: TemplateRefs, path: str = "$.spec"
) -> tuple[WorkflowSpec, list[Problem]]:
    """Merge ``spec.workflowTemplateRef`` if it is set (§13.2)."""
    ref = spec.workflow_template_ref
    if ref is None:
        return spec, []
    ref_namespace = ref.namespace or namespace
    name = ref.name or ""
    found = refs.fetch(ref_namespace, name)
    if found is None or found.spec is None:
        message = f'workflowTemplateRef "{ref_namespace}/{name}" not found'
        return spec, [error("E-TEMPLATE-REF-NOT-FOUND", f"{path}.workflowTemplateRef", message)]
    return merge_spec(spec, found.spec), []


def resolve_workflow_refs(
    workflow: Workflow, template_lookup: TemplateLookup
) -> tuple[Workflow, list[Problem], dict[str, Any]]:
    """Resolve a Workflow's references: the merged Workflow, the problems of the merge
    and of every ``templateRef``, and the templates snapshot of §13.4."""
    refs = TemplateRefs(template_lookup, run_namespace(workflow))
    problems: list[Problem] = []
    spec = workflow.spec
    if spec is not None:
        spec, problems = resolve_spec_ref(spec, refs.namespace, refs)
        workflow = evolve(workflow, spec=spec)
        for i, template in enumerate(spec.templates or ()):
            dag = template.dag
            for j, task in enumerate(dag.tasks or () if dag is not None else ()):
                if task.template_ref is not None:
                    problems.extend(refs.check(task.template_ref, _ref_path(i, j)))
    return workflow, problems, refs.snapshot()


def _ref_path(template: int, task: int) -> str:
    return f"$.spec.templates[{template}].dag.tasks[{task}].templateRef"


def task_target_name(task: DagTask) -> str | None:
    """How a task names its target in messages: ``template`` or ``<name>/<template>``."""
    if task.template:
        return task.template
    ref = task.template_ref
    if ref is not None:
        return f"{ref.name or ''}/{ref.template or ''}"
    return None


def snapshot_templates(snapshot: dict[str, Any], name: str) -> dict[str, Template] | None:
    """Name -> template of the WorkflowTemplate a ``templateRef`` names, as recorded in a
    run's snapshot (first wins on duplicate names)."""
    from aether.model.converter import structure

    recorded = snapshot.get(name)
    if recorded is None:
        return None
    return index_templates(structure(t, Template) for t in recorded)
