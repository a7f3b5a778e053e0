"""The parsed expression tree. Immutable and comparable, so that a printed and
re-parsed expression can be checked for equality; the evaluator compiles it
into closures once (``evaluator.py``).

Chains of one precedence level (``a || b || c``, ``a + b - c``) are one node
with a list of operands, as in the grammar, so a long chain never turns into
deep recursion."""

from __future__ import annotations

from typing import TypeAlias

from attrs import field, frozen


@frozen
class IntLit:
    value: int


@frozen
class FloatLit:
    value: float


@frozen
class StrLit:
    # The value after escape processing. Placeholders in it (SPEC §5.4) are
    # found when the node is compiled.
    value: str


@frozen
class BoolLit:
    value: bool


@frozen
class NullLit:
    pass


@frozen
class Field:
    """A ``.segment`` step."""

    name: str


@frozen
class Index:
    """A ``[expr]`` step."""

    expr: Node


Step: TypeAlias = "Field | Index"


@frozen
class Path:
    """``NAME`` followed by steps: a variable read (SPEC §5.3)."""

    name: str
    steps: tuple[Step, ...] = ()

    @property
    def is_bare(self) -> bool:
        """Names and dots only: unresolved, it evaluates to its own text."""
        return all(type(s) is Field for s in self.steps)

    @property
    def head(self) -> tuple[str, ...]:
        """The leading names, up to the first ``[…]`` step: the part that can
        be a flat variable key."""
        names = [self.name]
        for s in self.steps:
            if not isinstance(s, Field):
                break
            names.append(s.name)
        return tuple(names)


@frozen
class Placeholder:
    """``{{ path }}`` outside a string literal (SPEC §5.4)."""

    path: Path
    # The source text, which an unresolved placeholder evaluates to. Not part
    # of equality: a printed placeholder differs only in spacing.
    text: str = field(eq=False)


@frozen
class Access:
    """Steps applied to something that is not a path: ``(x).a``, ``f(x)[0]``."""

    target: Node
    steps: tuple[Step, ...]


@frozen
class Call:
    name: str
    args: tuple[Node, ...]


@frozen
class ListLit:
    items: tuple[Node, ...]


@frozen
class Unary:
    op: str  # "-" or "+"
    operand: Node


@frozen
class Not:
    operand: Node


@frozen
class Compare:
    op: str  # == != < <= > >= in, "not in"
    left: Node
    right: Node


@frozen
class Arith:
    """``first (op operand)*`` of one precedence level: additive (``+ -``) or
    multiplicative (``* / %``)."""

    first: Node
    rest: tuple[tuple[str, Node], ...]


@frozen
class Or:
    operands: tuple[Node, ...]


@frozen
class And:
    operands: tuple[Node, ...]


Node: TypeAlias = (
    "IntLit | FloatLit | StrLit | BoolLit | NullLit | Path | Placeholder | Access | Call | ListLit"
    " | Unary | Not | Compare | Arith | Or | And"
)

ADDITIVE_OPS = frozenset({"+", "-"})
MULTIPLICATIVE_OPS = frozenset({"*", "/", "%"})
