"""Static nesting depth (SPEC §3.3.9).

From the entrypoint template at depth 0: a DAG visits each task's target at depth + 1
(an inline executor counts as a visit), a loop visits its body at depth + 1, a task
template ends the walk; ``templateRef`` targets are visited like templates, with plain
names inside a WorkflowTemplate resolving among its own templates. Unknown names are
not followed. Any visit deeper than N fails, so a recursive reference always fails.

A template reached twice at the same depth is walked once, so the walk costs at most
(N + 2) passes over the templates however often they are shared, and recursion never
goes deeper than N + 2 frames.
"""

from __future__ import annotations

from aether.model.types import Template, WorkflowSpec
from aether.model.validate.context import Context

# Where a template lives: None for the document, else the WorkflowTemplate's name.
_Origin = str | None


def nesting_limit(spec: WorkflowSpec, ceiling: int) -> int:
    """N: ``maxNestedDepth`` with 0/absent as 3 and values outside 1..ceiling as ceiling."""
    value = spec.max_nested_depth
    if value is None or value == 0:
        return 3
    if value < 0 or value > ceiling:
        return ceiling
    return value


class _Walk:
    def __init__(self, ctx: Context, limit: int) -> None:
        self.ctx = ctx
        self.limit = limit
        self.done: set[tuple[_Origin, str, int]] = set()

    def _resolve(self, origin: _Origin, name: str) -> Template | None:
        if origin is None:
            return self.ctx.templates.get(name)
        refs = self.ctx.refs
        templates = refs.templates_of(origin) if refs is not None else None
        return templates.get(name) if templates is not None else None

    def exceeds(self, origin: _Origin, name: str, template: Template, depth: int) -> bool:
        """True when some visit from ``template`` (visited at ``depth``) goes deeper than N."""
        if depth > self.limit:
            return True
        key = (origin, name, depth)
        if key in self.done:
            return False
        self.done.add(key)
        if template.dag is not None:
            for task in template.dag.tasks or ():
                if task.template:
                    target = self._resolve(origin, task.template)
                    if target is not None and self.exceeds(origin, task.template, target, depth + 1):
                        return True
                elif task.template_ref is not None:
                    if self._visit_ref(task.template_ref.name, task.template_ref.template, depth + 1):
                        return True
                elif task.executor is not None and depth + 1 > self.limit:
                    return True
        elif template.loop is not None and template.loop.body:
            target = self._resolve(origin, template.loop.body)
            if target is not None and self.exceeds(origin, template.loop.body, target, depth + 1):
                return True
        return False

    def _visit_ref(self, wt_name: str | None, template_name: str | None, depth: int) -> bool:
        if self.ctx.refs is None or not wt_name or not template_name:
            return False
        target = self._resolve(wt_name, template_name)
        return target is not None and self.exceeds(wt_name, template_name, target, depth)


def check_nesting(ctx: Context, spec: WorkflowSpec, path: str) -> None:
    entry = spec.entrypoint
    template = ctx.templates.get(entry) if entry else None
    if template is None:
        return
    limit = nesting_limit(spec, ctx.limits.max_nested_depth_ceiling)
    if _Walk(ctx, limit).exceeds(None, entry or "", template, 0):
        ctx.error("E-NESTING-DEPTH", f"{path}.entrypoint", f"template nesting depth exceeds maximum ({limit})")
