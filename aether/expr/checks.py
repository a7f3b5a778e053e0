"""Submit-time checks of one expression field (SPEC §3.3.8): the problems the
validator reports, without a document path (the caller adds it)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

from attrs import frozen

from aether.expr import errors
from aether.expr import nodes as n
from aether.expr.compiler import compile_expression
from aether.expr.errors import ExpressionError
from aether.expr.printer import path_text
from aether.expr.regex import compile_regex
from aether.model.limits import DEFAULT_LIMITS, Limits
from aether.model.namespaces import KNOWN_NAMESPACES

# SPEC §5.3; each registered variable-source namespace is added by the caller.
DEFAULT_NAMESPACES: frozenset[str] = KNOWN_NAMESPACES


@frozen
class ExprDiagnostic:
    code: str
    severity: Literal["error", "warning"]
    message: str


def check_expression(
    source: str,
    known_namespaces: Collection[str] = DEFAULT_NAMESPACES,
    limits: Limits = DEFAULT_LIMITS,
) -> list[ExprDiagnostic]:
    """Every problem of one expression: E-EXPR-TOO-LONG, E-EXPR-TOO-DEEP,
    W-EXPR-SYNTAX (a compile error; the reference engine accepts any text),
    W-EXPR-LEGACY, E-EXPR-REGEX (a literal ``matches()`` pattern that is
    refused), W-EXPR-HYPHEN. A blank text has none (it is an absent
    condition)."""
    if not source.strip():
        return []
    try:
        compiled = compile_expression(source, limits)
    except ExpressionError as exc:
        if exc.code in (errors.TOO_LONG, errors.TOO_DEEP):
            return [ExprDiagnostic(exc.code, "error", exc.message)]
        return [ExprDiagnostic("W-EXPR-SYNTAX", "warning", str(exc))]
    if compiled.legacy:
        return [
            ExprDiagnostic("W-EXPR-LEGACY", "warning", f"expression evaluated in legacy mode: {compiled.legacy_reason}")
        ]
    assert compiled.tree is not None
    return [
        *(ExprDiagnostic(errors.REGEX, "error", exc.message) for exc in literal_pattern_errors(compiled.tree)),
        *(
            ExprDiagnostic(
                "W-EXPR-HYPHEN", "warning", f'"{ident}" is read as one name; put spaces around "-" to subtract'
            )
            for ident in hyphenated_names(compiled.tree, known_namespaces)
        ),
    ]


def literal_pattern_errors(root: n.Node) -> list[ExpressionError]:
    """The refusals of every ``matches()`` pattern written as a literal without
    placeholders: such a call could only ever fail, so submit reports it."""
    found: list[ExpressionError] = []
    for node in _all_nodes(root):
        if isinstance(node, n.Call) and node.name == "matches" and len(node.args) == 2:
            pattern = node.args[1]
            if isinstance(pattern, n.StrLit) and "{{" not in pattern.value:
                compiled = compile_regex(pattern.value)
                if isinstance(compiled, ExpressionError):
                    found.append(compiled)
    return found


def _all_nodes(root: n.Node) -> list[object]:
    out: list[object] = []
    stack: list[object] = [root]
    while stack:
        node = stack.pop()
        out.append(node)
        if hasattr(node, "__attrs_attrs__"):
            for attribute in node.__attrs_attrs__:
                stack.extend(_nodes_in(getattr(node, attribute.name)))
    return out


def hyphenated_names(root: n.Node, known_namespaces: Collection[str]) -> list[str]:
    """The paths with a ``-`` in a name whose first segment is not a known
    namespace (``x-1`` is the name "x-1", probably meant as ``x - 1``), in
    source order, each once."""
    found: dict[str, None] = {}
    stack: list[object] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, n.Placeholder):
            node = node.path
        if isinstance(node, n.Path):
            names = [node.name, *(s.name for s in node.steps if isinstance(s, n.Field))]
            if node.name not in known_namespaces and any("-" in name for name in names):
                found.setdefault(path_text(node), None)
        if hasattr(node, "__attrs_attrs__"):
            children: list[object] = []
            for attribute in node.__attrs_attrs__:
                children.extend(_nodes_in(getattr(node, attribute.name)))
            stack.extend(reversed(children))
    return list(found)


def _nodes_in(value: object) -> list[object]:
    if isinstance(value, tuple):
        out: list[object] = []
        for item in value:
            out.extend(_nodes_in(item))
        return out
    if hasattr(value, "__attrs_attrs__"):
        return [value]
    return []
