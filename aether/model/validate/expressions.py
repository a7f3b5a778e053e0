"""Expression fields (SPEC §3.3.8) and ``tasks.<x>`` references (W-REF-NOT-UPSTREAM, §3.3.4).

Compilation belongs to the expression language, :mod:`aether.expr` (layer 2). A layer
imports only the layers above it (the model is layer 1, and ``aether.expr`` itself imports
``Limits`` and the namespaces from here), so the model never imports it, not even lazily.
The compiler checks are injected instead: ``Context.expression_check``, an
:class:`~aether.model.validate.context.ExpressionCheck` that every validating entry point
(``load_document``, ``load_file``, ``validate``) requires from its caller, as it takes
``executor_checks``; the runtime and the CLI pass ``aether.expr.check_expression``.
There is no fallback: a document is never validated without its expression checks.

This module hands the checker each expression field once per distinct source text and
turns its diagnostics into problems at the field's path.
"""

from __future__ import annotations

import re

from aether.model.problems import Problem
from aether.model.validate.context import Context
from aether.model.validate.simple_expr import MAX_TREE_DEPTH, plainly_valid

# ``tasks.<name>`` not preceded by a name character or a dot, so that
# ``inputs.parameters.tasks.x`` or ``subtasks.x`` are not task references.
_TASK_REF = re.compile(r"(?<![A-Za-z0-9_.-])tasks\.([A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*)")


def check_expression(ctx: Context, source: str | None, path: str) -> None:
    """Report the compile problems of one expression field (empty means absent)."""
    if not source:
        return
    limit = ctx.limits.expr_length
    if len(source) > limit:
        ctx.error("E-EXPR-TOO-LONG", path, f"expression is {len(source)} characters; the limit is {limit}")
        return
    diagnostics = ctx.expr_cache.get(source)
    if diagnostics is None and ctx.limits.expr_depth >= MAX_TREE_DEPTH and plainly_valid(source, ctx.namespaces):
        # Nothing to report, and much cheaper to know than compiling (§3.3.8 checks
        # thousands of conditions in a large document).
        return
    if diagnostics is None:
        found = ctx.expression_check(source, ctx.namespaces, ctx.limits)
        diagnostics = [(d.code, d.severity, d.message) for d in found]
        ctx.expr_cache[source] = diagnostics
    for code, severity, message in diagnostics:
        ctx.problems.append(Problem(code, "error" if severity == "error" else "warning", path, ctx.prefix + message))


def task_references(text: str | None) -> list[str]:
    """The task names an expression or lookup text reads as ``tasks.<name>``, in order."""
    if not text or "tasks." not in text:
        return []
    return _TASK_REF.findall(text)
