"""Generate one-change mutants of a Python module with ``ast``.

A mutant is identified by its file, the text of the line it changes and a description of
the change, so a judgement recorded about it (an equivalent mutant) survives edits that
move the line. Applying a mutant re-parses the module, finds the node by its position in a
deterministic walk and unparses the whole module: formatting and comments are lost, which
cannot change behaviour.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

SHORT_STRING = 24
SNIPPET_WIDTH = 70
LOGGING_RECEIVERS = frozenset({"log", "logger", "logging", "LOG", "LOGGER", "_log", "_logger"})

COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
ARITHMETIC_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
}

Transform = Callable[[ast.AST], ast.AST | None]


@dataclass(frozen=True)
class Mutant:
    """One change to one file. ``node_index`` locates the node in ``_walk`` order."""

    path: str  # relative to the repository root, with forward slashes
    line: int  # the line the change is reported on
    first_line: int  # the enclosing statement's line range, for test selection
    last_line: int
    node_index: int
    scope: str  # the enclosing function or class, dotted ("" at module level)
    operator: str  # the kind of change, e.g. "compare", "statement"
    description: str  # the change, e.g. "`a < b` -> `a <= b`"
    original_line: str
    mutated_line: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity that survives line moves: file, enclosing scope, stripped line text, change."""
        return (self.path, self.scope, self.original_line.strip(), self.description)


def _snippet(node: ast.AST) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= SNIPPET_WIDTH else text[: SNIPPET_WIDTH - 3] + "..."


def _is_docstring(statement: ast.stmt, parent: ast.AST) -> bool:
    body = getattr(parent, "body", None)
    return (
        isinstance(parent, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and isinstance(body, list)
        and bool(body)
        and body[0] is statement
        and isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _is_dunder_all(statement: ast.stmt) -> bool:
    targets = statement.targets if isinstance(statement, ast.Assign) else []
    if isinstance(statement, ast.AnnAssign | ast.AugAssign):
        targets = [statement.target]
    return any(isinstance(target, ast.Name) and target.id == "__all__" for target in targets)


def _is_logging_call(statement: ast.stmt) -> bool:
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
        return False
    func = statement.value.func
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in LOGGING_RECEIVERS


TYPING_NAMES = frozenset(
    {"Any", "Union", "Optional", "Callable", "Literal", "Mapping", "Sequence", "TypeAlias", "TypeVar", "Iterable"}
)


def _is_type_expression(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in TYPING_NAMES
    if isinstance(node, ast.Subscript):
        return _is_type_expression(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _is_type_expression(node.left) or _is_type_expression(node.right)
    return isinstance(node, ast.Attribute) and node.attr in TYPING_NAMES


def _is_type_alias(statement: ast.stmt) -> bool:
    """``JSON = Any``, ``Handler = Callable[...]``: names for annotations, not behaviour."""
    if isinstance(statement, ast.AnnAssign):
        return "TypeAlias" in ast.unparse(statement.annotation)
    return isinstance(statement, ast.Assign) and _is_type_expression(statement.value)


def _is_type_checking_block(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.If) and "TYPE_CHECKING" in ast.unparse(statement.test)


# Fields never mutated: annotations are not behaviour, decorators are declarations.
SKIPPED_FIELDS = frozenset({"annotation", "returns", "decorator_list", "type_params", "type_comment"})


def _walk(tree: ast.AST) -> Iterator[tuple[ast.AST, ast.stmt | None, bool]]:
    """Yield (node, innermost enclosing statement, inside a message) for every mutable node,
    in a deterministic order. Skips docstrings, ``__all__``, annotations, decorators,
    logging calls and ``TYPE_CHECKING`` blocks; "inside a message" marks raise and f-string
    text, whose string constants are not mutated."""

    def visit(
        node: ast.AST, parent: ast.AST | None, statement: ast.stmt | None, message: bool
    ) -> Iterator[tuple[ast.AST, ast.stmt | None, bool]]:
        if isinstance(node, ast.stmt):
            if parent is not None and _is_docstring(node, parent):
                return
            if _is_dunder_all(node) or _is_logging_call(node) or _is_type_checking_block(node) or _is_type_alias(node):
                return
            if isinstance(node, ast.Import | ast.ImportFrom):
                return
            if isinstance(node, ast.AnnAssign) and node.value is None:  # a declaration, e.g. a field
                return
            statement = node
        yield node, statement, message
        inner_message = message or isinstance(node, ast.Raise | ast.JoinedStr)
        for field, value in ast.iter_fields(node):
            if field in SKIPPED_FIELDS:
                continue
            children = value if isinstance(value, list) else [value]
            for child in children:
                if isinstance(child, ast.AST):
                    yield from visit(child, node, statement, inner_message)

    yield from visit(tree, None, None, False)


@dataclass(frozen=True)
class _Change:
    operator: str
    description: str
    replace: Transform  # returns the replacement node, or None to delete a branch


def _changes(node: ast.AST, statement: ast.stmt | None, parent_is_body: bool, message: bool) -> list[_Change]:
    changes: list[_Change] = []
    if isinstance(node, ast.Compare):
        for position, op in enumerate(node.ops):
            swapped = COMPARE_SWAPS.get(type(op))
            if swapped is None:
                continue
            mutated = copy.deepcopy(node)
            mutated.ops[position] = swapped()
            changes.append(_Change("compare", f"`{_snippet(node)}` -> `{_snippet(mutated)}`", _const(mutated)))
    elif isinstance(node, ast.BoolOp):
        mutated_bool = copy.deepcopy(node)
        mutated_bool.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        changes.append(_Change("boolean", f"`{_snippet(node)}` -> `{_snippet(mutated_bool)}`", _const(mutated_bool)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        changes.append(_Change("not", f"`{_snippet(node)}` -> `{_snippet(node.operand)}`", _const(node.operand)))
    elif isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in ARITHMETIC_SWAPS:
        mutated_arith = copy.deepcopy(node)
        mutated_arith.op = ARITHMETIC_SWAPS[type(node.op)]()
        changes.append(
            _Change("arithmetic", f"`{_snippet(node)}` -> `{_snippet(mutated_arith)}`", _const(mutated_arith))
        )
    elif isinstance(node, ast.Constant):
        replacement = _constant_change(node.value, message)
        if replacement is not None:
            changed = ast.Constant(replacement[0])
            changes.append(_Change("constant", f"{node.value!r} -> {replacement[0]!r}", _const(changed)))
    if isinstance(node, ast.Return) and node.value is not None and not _is_none(node.value):
        mutated_return = ast.Return(value=ast.Constant(None))
        changes.append(_Change("return", f"`{_snippet(node)}` -> `return None`", _const(mutated_return)))
    if isinstance(node, ast.If):
        negated = copy.deepcopy(node)
        negated.test = ast.UnaryOp(op=ast.Not(), operand=negated.test)
        changes.append(_Change("negate", f"`if {_snippet(node.test)}` -> `if not ...`", _const(negated)))
        if node.orelse:
            kind = "elif" if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If) else "else"
            pruned = copy.deepcopy(node)
            pruned.orelse = []
            changes.append(_Change("branch", f"remove the {kind} branch", _const(pruned)))
    if isinstance(node, ast.IfExp):
        negated_exp = copy.deepcopy(node)
        negated_exp.test = ast.UnaryOp(op=ast.Not(), operand=negated_exp.test)
        changes.append(_Change("negate", f"`{_snippet(node)}` -> condition negated", _const(negated_exp)))
    if isinstance(node, ast.Break | ast.Continue):
        other = ast.Continue() if isinstance(node, ast.Break) else ast.Break()
        changes.append(_Change("loop", f"`{_snippet(node)}` -> `{_snippet(other)}`", _const(other)))
    if parent_is_body and isinstance(node, ast.stmt) and _deletable(node):
        changes.append(_Change("statement", f"`{_snippet(node)}` -> `pass`", _const(ast.Pass())))
    return changes


def _deletable(statement: ast.stmt) -> bool:
    # an assert states an invariant the code already guarantees: deleting it cannot be observed
    undeletable = (
        ast.Pass | ast.Assert | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Global | ast.Nonlocal
    )
    return not isinstance(statement, undeletable)


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _constant_change(value: object, message: bool) -> tuple[str | bool | int | float] | None:
    if isinstance(value, bool):
        return (not value,)
    if isinstance(value, int):
        return (value + 1,)
    if isinstance(value, float):
        return (value + 1.0,)
    if isinstance(value, str) and not message and len(value) <= SHORT_STRING:
        return ("" if value else "mutant",)
    return None


def _const(replacement: ast.AST) -> Transform:
    def replace(_original: ast.AST) -> ast.AST:
        return copy.deepcopy(replacement)

    return replace


def _body_parents(tree: ast.AST) -> set[int]:
    """ids of statements that sit directly in a statement list (so may become ``pass``)."""
    members: set[int] = set()
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            children = getattr(node, field, None)
            for child in children if isinstance(children, list) else []:
                if isinstance(child, ast.stmt):
                    members.add(id(child))
        for handler in getattr(node, "handlers", None) or []:
            members.update(id(child) for child in handler.body)
    return members


def _scopes(tree: ast.AST) -> dict[int, str]:
    """id of every node -> the dotted name of the function or class around it."""
    found: dict[int, str] = {}

    def visit(node: ast.AST, scope: str) -> None:
        found[id(node)] = scope
        inner = scope
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            inner = f"{scope}.{node.name}" if scope else node.name
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, "")
    return found


def generate(source: str, path: str) -> list[Mutant]:
    """Every mutant of one module, in a deterministic order."""
    tree = ast.parse(source)
    lines = source.splitlines()
    in_body = _body_parents(tree)
    scopes = _scopes(tree)
    mutants: list[Mutant] = []
    for index, (node, statement, message) in enumerate(_walk(tree)):
        if statement is None or not hasattr(node, "lineno"):
            continue
        for change in _changes(node, statement, id(node) in in_body, message):
            line: int = getattr(node, "lineno")  # noqa: B009 - every node with a change has a position
            first, last = _selection_lines(statement)
            original_line = lines[line - 1]
            mutants.append(
                Mutant(
                    path=path,
                    line=line,
                    first_line=first,
                    last_line=last,
                    node_index=index,
                    scope=scopes[id(node)],
                    operator=change.operator,
                    description=change.description,
                    original_line=original_line,
                    mutated_line=_mutated_line(node, change, original_line),
                )
            )
    return mutants


def _selection_lines(statement: ast.stmt) -> tuple[int, int]:
    """The lines whose coverage decides which tests run: a compound statement's header,
    a simple statement's whole extent."""
    body = getattr(statement, "body", None)
    if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
        return statement.lineno, max(statement.lineno, body[0].lineno - 1)
    return statement.lineno, statement.end_lineno or statement.lineno


def _mutated_line(node: ast.AST, change: _Change, original_line: str) -> str:
    replacement = change.replace(node)
    single_line = getattr(node, "end_lineno", None) == getattr(node, "lineno", None)
    if replacement is None:
        return ""
    if isinstance(node, ast.stmt):
        if change.operator == "branch":
            return original_line
        text = ast.unparse(replacement).splitlines()[0]
        indent = original_line[: len(original_line) - len(original_line.lstrip())]
        return indent + text
    if single_line:
        start, end = node.col_offset, node.end_col_offset  # type: ignore[attr-defined]
        encoded = original_line.encode()
        return (encoded[:start].decode() + ast.unparse(replacement) + encoded[end:].decode()).rstrip()
    return ast.unparse(replacement).splitlines()[0]


def apply(source: str, mutant: Mutant) -> str:
    """The module's source with the mutant's one change applied."""
    tree = ast.parse(source)
    target: ast.AST | None = None
    in_body = _body_parents(tree)
    for index, (node, statement, message) in enumerate(_walk(tree)):
        if index == mutant.node_index:
            target = node
            changes = _changes(node, statement, id(node) in in_body, message)
            break
    else:
        raise LookupError(f"{mutant.path}: node {mutant.node_index} not found")
    change = next((c for c in changes if c.description == mutant.description), None)
    if change is None:
        raise LookupError(f"{mutant.path}:{mutant.line}: change {mutant.description} not found")
    replacement = change.replace(target)
    _replace_node(tree, target, replacement)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _replace_node(tree: ast.AST, target: ast.AST, replacement: ast.AST | None) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, field, replacement)
                return
            if isinstance(value, list):
                for position, child in enumerate(value):
                    if child is target:
                        value[position] = replacement
                        return
    raise LookupError("mutated node has no parent")


def mutants_of(root: Path, relative: str) -> list[Mutant]:
    return generate((root / relative).read_text(encoding="utf-8"), relative)
