"""What a ``templateRef`` leads to must resolve too (SPEC §13.3, §3.3.11).

A task's ``templateRef`` is checked where it is written (``dag.py``). The template it
names lives in a stored WorkflowTemplate, whose own tasks name further templates: plain
``template`` and loop ``body`` names among that WorkflowTemplate's templates, and
``templateRef``s into others, followed in the same way. Those WorkflowTemplates were
valid when they were applied, but one they reference may have been deleted or replaced
since. A run must not discover that when it reaches the task, so everything reachable
through a reference is checked at submit, and the first broken link is reported at the
reference in the document that leads to it.

Cycles are not this rule's concern (the nesting check of §3.3.9 reports them); the walk
visits each template once.
"""

from __future__ import annotations

from attrs import frozen

from aether.model.refs import TemplateRefs
from aether.model.types import Template, TemplateRef, WorkflowSpec
from aether.model.validate.context import Context

# A template inside a WorkflowTemplate of the run's namespace: (WorkflowTemplate, template).
_Key = tuple[str, str]


@frozen
class _Broken:
    code: str
    message: str


def _follow_ref(refs: TemplateRefs, ref: TemplateRef, within: _Key) -> tuple[_Key | None, _Broken | None]:
    name, template = ref.name or "", ref.template or ""
    where = f' (in template "{within[0]}/{within[1]}")'
    templates = refs.templates_of(name)
    if templates is None:
        return None, _Broken("E-TEMPLATE-REF-NOT-FOUND", f'templateRef "{name}" not found{where}')
    if template not in templates or templates[template].kind is None:
        return None, _Broken("E-TEMPLATE-REF-TEMPLATE", f'templateRef "{name}/{template}": template not found{where}')
    return (name, template), None


def _follow_name(templates: dict[str, Template], name: str, within: _Key, task: str) -> _Broken | None:
    if name in templates and templates[name].kind is not None:
        return None
    owner = f"{within[0]}/{within[1]}"
    subject = f'task "{task}"' if task else "loop body"
    return _Broken("E-TEMPLATE-UNKNOWN", f'template "{owner}": {subject} references unknown template "{name}"')


def _first_broken(refs: TemplateRefs, start: _Key) -> _Broken | None:
    """The first link that does not resolve among the templates reachable from ``start``
    (which resolves), depth first in document order."""
    stack = [start]
    seen: set[_Key] = set()
    while stack:
        key = stack.pop()
        if key in seen:
            continue
        seen.add(key)
        templates = refs.templates_of(key[0]) or {}
        template = templates[key[1]]
        found: list[_Key] = []
        if template.dag is not None:
            for task in template.dag.tasks or ():
                if task.template_ref is not None:
                    target, broken = _follow_ref(refs, task.template_ref, key)
                    if broken is not None:
                        return broken
                    assert target is not None
                    found.append(target)
                elif task.template:
                    broken = _follow_name(templates, task.template, key, task.name or "")
                    if broken is not None:
                        return broken
                    found.append((key[0], task.template))
        elif template.loop is not None and template.loop.body:
            broken = _follow_name(templates, template.loop.body, key, "")
            if broken is not None:
                return broken
            found.append((key[0], template.loop.body))
        stack.extend(reversed(found))
    return None


def check_reached_references(ctx: Context, spec: WorkflowSpec, path: str) -> None:
    """Report, at each resolving ``templateRef`` of ``spec``, the first broken link behind it."""
    refs = ctx.refs
    if refs is None:
        return
    memo: dict[_Key, _Broken | None] = {}
    for i, template in enumerate(spec.templates or ()):
        dag = template.dag
        for j, task in enumerate(dag.tasks or () if dag is not None else ()):
            ref = task.template_ref
            if ref is None or task.template or refs.target(ref) is None:
                continue  # no reference, or one whose own problem dag.py reports
            start = (ref.name or "", ref.template or "")
            if start not in memo:
                memo[start] = _first_broken(refs, start)
            broken = memo[start]
            if broken is not None:
                ctx.error(broken.code, f"{path}.templates[{i}].dag.tasks[{j}].templateRef", broken.message)
