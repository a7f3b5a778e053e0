"""Expression fields (SPEC §3.3.8) and ``tasks.<x>`` references (W-REF-NOT-UPSTREAM, §3.3.4).

Compilation belongs to :mod:`aether.expr` (layer 2); this module only hands it each
expression field once per distinct source text and turns its diagnostics into problems
at the field's path. The import is lazy so that the model layer does not load the
expression grammar until a document actually has expressions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from aether.model.namespaces import KNOWN_NAMESPACES
from aether.model.problems import Problem
from aether.model.validate.context import Context
from aether.model.validate.simple_expr import MAX_TREE_DEPTH, plainly_valid

# ``tasks.<name>`` not preceded by a name character or a dot, so that
# ``inputs.parameters.tasks.x`` or ``subtasks.x`` are not task references.
_TASK_REF = re.compile(r"(?<![A-Za-z0-9_.-])tasks\.([A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*)")


@cache
def expression_checker() -> Callable[..., list[Any]] | None:
    """``aether.expr.check_expression``, or ``None`` while that layer is unavailable."""
    try:
        from aether.expr import check_expression
    except ImportError:
        return None
    checker: Callable[..., list[Any]] = check_expression
    return checker


def check_expression(ctx: Context, source: str | None, path: str) -> None:
    """Report the compile problems of one expression field (empty means absent)."""
    if not source:
        return
    limit = ctx.limits.expr_length
    if len(source) > limit:
        ctx.error("E-EXPR-TOO-LONG", path, f"expression is {len(source)} characters; the limit is {limit}")
        return
    diagnostics = ctx.expr_cache.get(source)
    if diagnostics is None and ctx.limits.expr_depth >= MAX_TREE_DEPTH and plainly_valid(source, KNOWN_NAMESPACES):
        # Nothing to report, and much cheaper to know than compiling (§3.3.8 checks
        # thousands of conditions in a large document).
        return
    if diagnostics is None:
        checker = expression_checker()
        if checker is None:
            return
        diagnostics = [(d.code, d.severity, d.message) for d in checker(source, KNOWN_NAMESPACES, ctx.limits)]
        ctx.expr_cache[source] = diagnostics
    for code, severity, message in diagnostics:
        ctx.problems.append(Problem(code, "error" if severity == "error" else "warning", path, ctx.prefix + message))


def task_references(text: str | None) -> list[str]:
    """The task names an expression or lookup text reads as ``tasks.<name>``, in order."""
    if not text or "tasks." not in text:
        return []
    return _TASK_REF.findall(text)
