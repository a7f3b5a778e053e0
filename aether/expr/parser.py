"""Source text to expression tree: the Lark LALR parser of ``grammar.lark``,
the nesting-depth limit, and compile errors with positions (SPEC §5.1, §5.9)."""

from __future__ import annotations

import functools
import re
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from aether.expr import errors
from aether.expr import nodes as n
from aether.expr.errors import ExpressionError, offset_position, position_error
from aether.expr.functions import FUNCTIONS
from aether.model.limits import Limits

# Grammar rules that are one level of nesting for L-EXPR-DEPTH ("parenthesis,
# operator and call nesting"). A chain of one operator level is one node.
_NESTING = frozenset(
    {
        "or_expr",
        "and_expr",
        "not_op",
        "compare",
        "not_in",
        "additive",
        "multiplicative",
        "unary_op",
        "call",
        "paren",
        "list_lit",
        "index_step",
        "placeholder",
    }
)

# Keyword tokens that the tree keeps but the nodes do not need.
_KEYWORD_TOKENS = frozenset({"OR", "AND", "NOT", "IN"})

_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "r": "\r", "t": "\t"}
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")


@functools.cache
def _parser() -> Lark:
    return Lark.open_from_package(
        "aether.expr",
        "grammar.lark",
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=True,
    )


def parse(source: str, limits: Limits) -> n.Node:
    """The tree of ``source``. Raises ``ExpressionError``: E-EXPR-TOO-DEEP,
    E-EXPR-SYNTAX or E-EXPR-FUNCTION (the length limit is the caller's)."""
    try:
        tree = _parser().parse(source)
    except UnexpectedInput as exc:
        if bracket_depth(source) > limits.expr_depth:
            raise too_deep(limits) from None
        raise _syntax_error(source, exc) from None
    if tree_depth(tree) > limits.expr_depth:
        raise too_deep(limits)
    try:
        return _Builder(source).node(tree)
    except RecursionError:
        # Only reachable with a depth limit configured far above the default.
        raise too_deep(limits) from None


def too_deep(limits: Limits) -> ExpressionError:
    return ExpressionError(errors.TOO_DEEP, f"expression nesting exceeds {limits.expr_depth}")


def tree_depth(tree: Tree[Any]) -> int:
    """The nesting depth of a parse tree, without recursion (the tree of an
    over-deep expression is deeper than Python's stack)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(tree, 0)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, Tree):
            continue
        if item.data in _NESTING:
            depth += 1
            deepest = max(deepest, depth)
        stack.extend((child, depth) for child in item.children)
    return deepest


def bracket_depth(source: str) -> int:
    """Nesting of ``(`` and ``[`` outside string literals: the depth of a text
    that does not parse, so an over-deep text is reported as such."""
    deepest = depth = 0
    quote = ""
    i = 0
    while i < len(source):
        c = source[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif c in ")]":
            depth = max(depth - 1, 0)
        i += 1
    return deepest


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _end_position(source: str) -> tuple[int, int]:
    return offset_position(source, len(source.rstrip(" \t\r\n")))


def _syntax_error(source: str, exc: UnexpectedInput) -> ExpressionError:
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        token = exc.token
        return position_error(
            errors.SYNTAX, f'unexpected "{_shorten(str(token))}"', source, token.line or 1, token.column or 1
        )
    if isinstance(exc, UnexpectedCharacters):
        offset = exc.pos_in_stream or 0
        char = source[offset] if offset < len(source) else ""
        message = "unterminated string" if char in ("'", '"') else f'unexpected "{char}"'
        line, column = offset_position(source, offset)
        return position_error(errors.SYNTAX, message, source, line, column)
    if isinstance(exc, UnexpectedToken | UnexpectedEOF):
        line, column = _end_position(source)
        message = "empty expression" if not source.strip() else "unexpected end of expression"
        return position_error(errors.SYNTAX, message, source, line, column)
    line, column = _end_position(source)
    return position_error(errors.SYNTAX, str(exc).split("\n", 1)[0], source, line, column)


def unescape(body: str) -> str:
    """String literal escapes (SPEC §5.1): ``\\\\ \\' \\" \\n \\r \\t \\uXXXX``;
    any other backslash sequence stays as written. A ``\\uXXXX`` surrogate pair
    becomes the one character it encodes, as in JSON."""
    if "\\" not in body:
        return body
    out: list[str] = []
    i, size = 0, len(body)
    while i < size:
        c = body[i]
        if c != "\\" or i + 1 >= size:
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and _HEX4.fullmatch(body, i + 2, i + 6):
            code = int(body[i + 2 : i + 6], 16)
            i += 6
            if 0xD800 <= code < 0xDC00 and body.startswith("\\u", i) and _HEX4.fullmatch(body, i + 2, i + 6):
                low = int(body[i + 2 : i + 6], 16)
                if 0xDC00 <= low < 0xE000:
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
            out.append(chr(code))
        else:
            out.append(c)  # kept as written; the next character follows as is
            i += 1
    return "".join(out)


def _int_value(text: str) -> int:
    # A literal too long to be in range keeps a stand-in that is out of range
    # too (and avoids Python's limit on converting very long digit strings).
    return int(text) if len(text) <= 40 else 2**64


class _Builder:
    """Parse tree → expression nodes. Recursive, which the depth limit bounds."""

    def __init__(self, source: str) -> None:
        self.source = source

    def node(self, tree: Any) -> n.Node:
        method = getattr(self, "_" + tree.data)
        return method(tree.children)

    def _int_lit(self, children: list[Token]) -> n.Node:
        return n.IntLit(_int_value(str(children[0])))

    def _float_lit(self, children: list[Token]) -> n.Node:
        return n.FloatLit(float(str(children[0])))

    def _string_lit(self, children: list[Token]) -> n.Node:
        return n.StrLit(unescape(str(children[0])[1:-1]))

    def _true_lit(self, _: list[Any]) -> n.Node:
        return n.BoolLit(True)

    def _false_lit(self, _: list[Any]) -> n.Node:
        return n.BoolLit(False)

    def _null_lit(self, _: list[Any]) -> n.Node:
        return n.NullLit()

    def _name(self, children: list[Token]) -> n.Node:
        return n.Path(str(children[0]))

    def _paren(self, children: list[Any]) -> n.Node:
        return self.node(children[0])

    def _list_lit(self, children: list[Any]) -> n.Node:
        return n.ListLit(tuple(self.node(c) for c in children if c is not None))

    def _call(self, children: list[Any]) -> n.Node:
        name_token: Token = children[0]
        name = str(name_token)
        line, column = name_token.line or 1, name_token.column or 1
        args = tuple(self.node(c) for c in children[1:] if c is not None)
        fn = FUNCTIONS.get(name)
        if fn is None:
            raise position_error(errors.FUNCTION, f'unknown function "{name}"', self.source, line, column)
        if len(args) != fn.arity:
            plural = "argument" if fn.arity == 1 else "arguments"
            raise position_error(
                errors.FUNCTION,
                f"{name}() takes {fn.arity} {plural}; {len(args)} given",
                self.source,
                line,
                column,
            )
        return n.Call(name, args)

    def _steps(self, children: list[Any]) -> tuple[n.Step, ...]:
        steps: list[n.Step] = []
        for child in children:
            if isinstance(child, Token):
                # DOTSEG: the dot, optional whitespace, the segment.
                steps.append(n.Field(str(child)[1:].lstrip(" \t\r\n")))
            else:
                steps.append(n.Index(self.node(child.children[0])))
        return tuple(steps)

    def _placeholder(self, children: list[Any]) -> n.Node:
        open_token, name, *steps, close_token = children
        text = self.source[open_token.start_pos : close_token.end_pos]
        return n.Placeholder(n.Path(str(name), self._steps(steps)), text)

    def _postfix(self, children: list[Any]) -> n.Node:
        primary, *rest = children
        steps = self._steps(rest)
        if primary.data == "name":
            return n.Path(str(primary.children[0]), steps)
        return n.Access(self.node(primary), steps)

    def _not_op(self, children: list[Any]) -> n.Node:
        operand = [c for c in children if not isinstance(c, Token)]
        return n.Not(self.node(operand[0]))

    def _compare(self, children: list[Any]) -> n.Node:
        left, op, right = children
        return n.Compare(str(op), self.node(left), self.node(right))

    def _not_in(self, children: list[Any]) -> n.Node:
        return n.Compare("not in", self.node(children[0]), self.node(children[-1]))

    def _chain(self, children: list[Any]) -> n.Node:
        first = self.node(children[0])
        rest = tuple((str(children[i]), self.node(children[i + 1])) for i in range(1, len(children), 2))
        return n.Arith(first, rest)

    _additive = _chain
    _multiplicative = _chain

    def _unary_op(self, children: list[Any]) -> n.Node:
        op, operand = str(children[0]), children[1]
        if op == "-" and isinstance(operand, Tree) and operand.data == "int_lit":
            # Folded so that the most negative 64-bit integer can be written.
            return n.IntLit(-_int_value(str(operand.children[0])))
        if op == "-" and isinstance(operand, Tree) and operand.data == "float_lit":
            return n.FloatLit(-float(str(operand.children[0])))
        return n.Unary(op, self.node(operand))

    def _operands(self, children: list[Any]) -> tuple[n.Node, ...]:
        return tuple(self.node(c) for c in children if not (isinstance(c, Token) and c.type in _KEYWORD_TOKENS))

    def _or_expr(self, children: list[Any]) -> n.Node:
        return n.Or(self._operands(children))

    def _and_expr(self, children: list[Any]) -> n.Node:
        return n.And(self._operands(children))
