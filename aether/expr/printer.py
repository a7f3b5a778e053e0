"""The canonical text of a parsed expression. The grammar parses it back to an
equal tree: parentheses are written exactly where the tree's shape needs them,
string literals are re-escaped, numbers keep their type."""

from __future__ import annotations

import math

from aether.expr import nodes as n

# Precedence levels, loosest first; an operand is parenthesised when its own
# level is below what its position requires.
OR, AND, NOT, COMPARE, ADD, MUL, UNARY, POSTFIX = range(1, 9)

_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def level(node: n.Node) -> int:
    t = type(node)
    if t is n.Or:
        return OR
    if t is n.And:
        return AND
    if t is n.Not:
        return NOT
    if t is n.Compare:
        return COMPARE
    if t is n.Arith:
        assert isinstance(node, n.Arith)
        return ADD if node.rest[0][0] in n.ADDITIVE_OPS else MUL
    if t is n.Unary:
        return UNARY
    # A negative number is written with a leading `-`, which the grammar reads
    # as a unary minus (folded back into the literal).
    if t is n.IntLit or t is n.FloatLit:
        assert isinstance(node, n.IntLit | n.FloatLit)
        return UNARY if _negative(node.value) else POSTFIX
    return POSTFIX


def _negative(value: float) -> bool:
    return value < 0 or (value == 0 and math.copysign(1.0, value) < 0)


def quote(value: str) -> str:
    return "'" + "".join(_ESCAPES.get(c, c) for c in value) + "'"


def _float_text(value: float) -> str:
    if math.isnan(value):
        return "(0.0 / 0.0)"  # never produced by the parser
    if math.isinf(value):
        return "-1e999" if value < 0 else "1e999"
    return repr(value)


def _wrap(node: n.Node, minimum: int) -> str:
    text = pretty_node(node)
    return f"({text})" if level(node) < minimum else text


def _steps(steps: tuple[n.Step, ...]) -> str:
    out: list[str] = []
    for step in steps:
        if isinstance(step, n.Field):
            out.append("." + step.name)
        else:
            out.append("[" + pretty_node(step.expr) + "]")
    return "".join(out)


def path_text(path: n.Path) -> str:
    """``name.seg[expr]…`` in canonical form."""
    return path.name + _steps(path.steps)


def pretty_node(node: n.Node) -> str:
    t = type(node)
    if t is n.IntLit:
        assert isinstance(node, n.IntLit)
        return str(node.value)
    if t is n.FloatLit:
        assert isinstance(node, n.FloatLit)
        return _float_text(node.value)
    if t is n.StrLit:
        assert isinstance(node, n.StrLit)
        return quote(node.value)
    if t is n.BoolLit:
        assert isinstance(node, n.BoolLit)
        return "true" if node.value else "false"
    if t is n.NullLit:
        return "null"
    if t is n.Path:
        assert isinstance(node, n.Path)
        return path_text(node)
    if t is n.Placeholder:
        assert isinstance(node, n.Placeholder)
        return "{{" + path_text(node.path) + "}}"
    if t is n.Access:
        assert isinstance(node, n.Access)
        target = pretty_node(node.target)
        # A number before `.x` would lex as a float (`1.5`); a path or another
        # access would absorb the steps into itself.
        if level(node.target) < POSTFIX or isinstance(node.target, n.IntLit | n.FloatLit | n.Path | n.Access):
            target = f"({target})"
        return target + _steps(node.steps)
    if t is n.Call:
        assert isinstance(node, n.Call)
        return node.name + "(" + ", ".join(pretty_node(a) for a in node.args) + ")"
    if t is n.ListLit:
        assert isinstance(node, n.ListLit)
        return "[" + ", ".join(pretty_node(a) for a in node.items) + "]"
    if t is n.Unary:
        assert isinstance(node, n.Unary)
        text = _wrap(node.operand, UNARY)
        # `-5` is read as the literal -5; a minus applied to the literal 5 needs
        # the parentheses to stay a minus.
        if isinstance(node.operand, n.IntLit | n.FloatLit) and level(node.operand) == POSTFIX:
            text = f"({text})"
        return node.op + text
    if t is n.Not:
        assert isinstance(node, n.Not)
        return "!" + _wrap(node.operand, NOT)
    if t is n.Compare:
        assert isinstance(node, n.Compare)
        return f"{_wrap(node.left, ADD)} {node.op} {_wrap(node.right, ADD)}"
    if t is n.Arith:
        assert isinstance(node, n.Arith)
        # Every operand one level tighter than the chain: a nested chain of the
        # same level was parenthesised in the source (chains are flat).
        inner = level(node) + 1
        parts = [_wrap(node.first, inner)]
        for op, operand in node.rest:
            parts.append(f"{op} {_wrap(operand, inner)}")
        return " ".join(parts)
    if t is n.Or:
        assert isinstance(node, n.Or)
        return " || ".join(_wrap(o, AND) for o in node.operands)
    if t is n.And:
        assert isinstance(node, n.And)
        return " && ".join(_wrap(o, NOT) for o in node.operands)
    raise TypeError(f"not an expression node: {node!r}")
