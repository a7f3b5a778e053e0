"""Hooks (SPEC §3.3.7, §11.5): targets must be task templates; some hooks never fire."""

from __future__ import annotations

from enum import Enum

from aether.model.types import Hooks
from aether.model.validate.context import Context


class HookScope(Enum):
    WORKFLOW = "workflow"
    LEAF_CALL_SITE = "leaf call site"  # a DAG task whose target is a task template or inline
    CONTAINER_CALL_SITE = "container call site"  # a DAG task whose target is a dag or loop
    TASK_TEMPLATE = "task template"


_NEVER_AT_WORKFLOW = frozenset({"onSuspend", "onResume"})
_CONTAINER_HOOKS = frozenset({"onCancel", "onExit"})


def _never_fires(scope: HookScope, hook: str) -> bool:
    if scope is HookScope.WORKFLOW:
        return hook in _NEVER_AT_WORKFLOW
    if scope is HookScope.CONTAINER_CALL_SITE:
        return hook not in _CONTAINER_HOOKS
    return scope is HookScope.TASK_TEMPLATE


def check_hooks(ctx: Context, hooks: Hooks | None, path: str, loc: str, scope: HookScope) -> None:
    """``loc`` starts each message: ``spec.hooks`` or ``template "<t>" task "<n>" hooks``."""
    if hooks is None:
        return
    for hook, ref in hooks.items():
        hook_path = f"{path}.{hook}"
        target = ref.template
        if not target:
            ctx.warn("W-HOOK-EMPTY", hook_path, f"{loc}: {hook} has no template and never fires")
        elif scope is not HookScope.TASK_TEMPLATE:
            template = ctx.templates.get(target)
            if template is None:
                if ctx.unknown_template(target):
                    message = f'{loc}: {hook} references unknown template "{target}"'
                    ctx.error("E-HOOK-UNKNOWN-TEMPLATE", f"{hook_path}.template", message)
            elif template.kind != "task":
                message = f'{loc}: {hook} template "{target}" must be a task template (not dag or loop)'
                ctx.error("E-HOOK-NOT-TASK", f"{hook_path}.template", message)
        if _never_fires(scope, hook):
            ctx.warn("W-HOOK-NEVER-FIRES", hook_path, f"{loc}: {hook} never fires here")
