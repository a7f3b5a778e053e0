"""Expression tree → a tree of closures, built once per compiled expression and
then run for each environment (SPEC §5.3 to §5.7).

Every closure takes the evaluation context ``ctx``: the environment, the
budget of L-EXPR-STEPS and L-EXPR-WORK, the warnings, the limits. Each operator,
lookup and call application counts one step; the work inside it (elements
copied, compared or rendered) counts against L-EXPR-WORK. A result that is not
a boolean is checked against what the event log stores (SPEC §5.9)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from attrs import frozen

from aether.expr import errors
from aether.expr import nodes as n
from aether.expr.budget import Budget, check_result, render_within, string_too_long
from aether.expr.errors import ExpressionError
from aether.expr.functions import FUNCTIONS
from aether.expr.interpolate import Slot, resolve_slot, split
from aether.expr.lookup import MISSING, Candidates, candidates, navigate
from aether.expr.operators import (
    ARITH,
    charge_equality,
    check_float,
    check_int,
    check_list,
    check_ordered,
    check_string,
    contains,
    get_field,
    get_index,
)
from aether.expr.printer import path_text
from aether.expr.values import as_condition, is_list, is_number, is_object, type_name, values_equal
from aether.model.limits import Limits


@frozen
class EvalResult:
    value: Any
    warnings: tuple[str, ...] = ()


# Results are immutable, so the commonest two (a condition without warnings)
# are shared instead of built for every evaluation.
_TRUE = EvalResult(True)
_FALSE = EvalResult(False)


class Ctx(Budget):
    __slots__ = ("env", "warnings")

    def __init__(self, env: Mapping[str, Any], limits: Limits) -> None:
        # The fields of Budget, set here: one evaluation per condition makes
        # the extra call of ``super().__init__`` a measurable share of its cost.
        self.limits = limits
        self.max_steps = limits.expr_steps
        self.max_work = limits.expr_work
        self.steps = 0
        self.work = 0
        self.env = env
        self.warnings: list[str] | None = None

    def unresolved(self, text: str) -> None:
        warning = f'W-EXPR-UNRESOLVED: "{text}" is not defined; using its text'
        if self.warnings is None:
            self.warnings = [warning]
        elif warning not in self.warnings:
            self.warnings.append(warning)


Fn = Callable[[Ctx], Any]


def run(fn: Fn, env: Mapping[str, Any], limits: Limits) -> EvalResult:
    ctx = Ctx(env, limits)
    try:
        value = fn(ctx)
        if value is not True and value is not False:
            check_result(value, ctx)
    except RecursionError:
        raise ExpressionError(errors.LIMIT, "value nested too deeply to evaluate") from None
    if ctx.warnings:
        return EvalResult(value, tuple(ctx.warnings))
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    return EvalResult(value)


# A compiled step: a field name, or a closure giving the index.
CStep = tuple[str, Any]


def _compile_steps(steps: tuple[n.Step, ...]) -> tuple[CStep, ...]:
    return tuple(("f", s.name) if isinstance(s, n.Field) else ("i", compile_node(s.expr)) for s in steps)


def _walk_strict(ctx: Ctx, value: Any, steps: tuple[CStep, ...], where: str) -> Any:
    for kind, arg in steps:
        value = get_field(value, arg, where) if kind == "f" else get_index(value, arg(ctx), where)
    return value


def _walk_lenient(ctx: Ctx, value: Any, steps: tuple[CStep, ...]) -> Any:
    """Navigation where a failure means "unresolved": MISSING, not an error.
    Errors of the index expressions themselves still propagate."""
    for kind, arg in steps:
        if kind == "f":
            if not is_object(value) or arg not in value:
                return MISSING
            value = value[arg]
            continue
        key = arg(ctx)
        in_list = type(key) is int and is_list(value) and -len(value) <= key < len(value)
        if not (in_list or (type(key) is str and is_object(value) and key in value)):
            return MISSING
        value = value[key]
    return value


def _path_parts(path: n.Path) -> tuple[Candidates, tuple[CStep, ...]]:
    """The lookup candidates of the path's leading names, and the compiled
    steps that follow them (starting at the first ``[…]``)."""
    head = path.head
    return candidates(head), _compile_steps(path.steps[len(head) - 1 :])


def _find(env: Mapping[str, Any], cands: Candidates) -> tuple[Any, tuple[Any, ...]]:
    """The value of the longest candidate key and the names still to follow."""
    for key, rest in cands:
        if key in env:
            return env[key], rest
    return MISSING, ()


def _bare_path(path: n.Path, probe: bool) -> Fn:
    """A path of names and dots. Unresolved, it is its own text with a warning
    (SPEC §5.3), or MISSING for ``default()`` to see."""
    cands = candidates(path.head)
    text = path_text(path)

    if len(cands) == 1 and not probe:
        key = cands[0][0]

        def simple(ctx: Ctx) -> Any:
            ctx.steps += 1
            if ctx.steps > ctx.max_steps:
                ctx.too_many_steps()
            env = ctx.env
            if key in env:
                return env[key]
            ctx.unresolved(text)
            return text

        return simple

    def bare(ctx: Ctx) -> Any:
        ctx.steps += 1
        if ctx.steps > ctx.max_steps:
            ctx.too_many_steps()
        env = ctx.env
        for key, rest in cands:
            if key in env:
                value = env[key]
                if rest:
                    value = navigate(value, rest)
                    if value is MISSING:
                        break
                return value
        if probe:
            return MISSING
        ctx.unresolved(text)
        return text

    return bare


def _indexed_path(path: n.Path) -> Fn:
    """A path with ``[…]`` steps: every failure is an error (SPEC §5.3)."""
    cands, steps = _path_parts(path)
    text = path_text(path)

    def indexed(ctx: Ctx) -> Any:
        ctx.steps += 1
        if ctx.steps > ctx.max_steps:
            ctx.too_many_steps()
        value, rest = _find(ctx.env, cands)
        if value is MISSING:
            raise ExpressionError(errors.UNDEFINED, f'"{text}" is not defined')
        for step in rest:
            value = get_field(value, step.name, text)
        return _walk_strict(ctx, value, steps, text)

    return indexed


def _placeholder(node: n.Placeholder, probe: bool) -> Fn:
    """``{{ path }}``: the value of the path, or unresolved its own text
    (SPEC §5.4). Never a lookup error."""
    cands, steps = _path_parts(node.path)
    raw = node.text
    text = path_text(node.path)

    def placeholder(ctx: Ctx) -> Any:
        ctx.steps += 1
        if ctx.steps > ctx.max_steps:
            ctx.too_many_steps()
        value, rest = _find(ctx.env, cands)
        if value is not MISSING and rest:
            value = navigate(value, rest)
        if value is not MISSING and steps:
            value = _walk_lenient(ctx, value, steps)
        if value is MISSING:
            if probe:
                return MISSING
            ctx.unresolved(text)
            return raw
        return value

    return placeholder


def _string(node: n.StrLit) -> Fn:
    parts = split(node.value)
    if not any(isinstance(p, Slot) for p in parts):
        value = node.value
        return lambda ctx: value

    def interpolated(ctx: Ctx) -> str:
        out: list[str] = []
        room = ctx.limits.expr_string
        for part in parts:
            if isinstance(part, Slot):
                ctx.steps += 1
                if ctx.steps > ctx.max_steps:
                    ctx.too_many_steps()
                value = resolve_slot(ctx.env, part)
                text = part.text if value is MISSING else render_within(value, room, ctx)
                if text is None:
                    raise string_too_long(ctx.limits, "interpolated string")
            else:
                text = part
            room -= len(text)
            if room < 0:
                raise string_too_long(ctx.limits, "interpolated string")
            out.append(text)
        return "".join(out)

    return interpolated


def _constant(value: Any) -> Fn:
    return lambda ctx: value


def _failing(error: ExpressionError) -> Fn:
    def fail(ctx: Ctx) -> Any:
        raise error.copy()

    return fail


def _compare(node: n.Compare) -> Fn:
    left, right, op = compile_node(node.left), compile_node(node.right), node.op

    if op == "==" or op == "!=":
        negate = op == "!="

        def equality(ctx: Ctx) -> bool:
            a, b = left(ctx), right(ctx)
            ctx.steps += 1
            if ctx.steps > ctx.max_steps:
                ctx.too_many_steps()
            if type(a) is str and type(b) is str:
                return (a != b) if negate else (a == b)
            charge_equality(ctx, a, b)
            return values_equal(a, b) is not negate

        return equality

    if op == "in" or op == "not in":
        negate = op == "not in"

        def membership(ctx: Ctx) -> bool:
            a, b = left(ctx), right(ctx)
            ctx.steps += 1
            if ctx.steps > ctx.max_steps:
                ctx.too_many_steps()
            return contains(ctx, b, a, f'"{op}"') is not negate

        return membership

    def ordering(ctx: Ctx) -> bool:
        a, b = left(ctx), right(ctx)
        ctx.steps += 1
        if ctx.steps > ctx.max_steps:
            ctx.too_many_steps()
        check_ordered(op, a, b)
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        return a >= b

    return ordering


def _arith(node: n.Arith) -> Fn:
    first = compile_node(node.first)
    rest = tuple((ARITH[op], compile_node(operand)) for op, operand in node.rest)

    def arith(ctx: Ctx) -> Any:
        value = first(ctx)
        for apply, operand in rest:
            other = operand(ctx)
            ctx.steps += 1
            if ctx.steps > ctx.max_steps:
                ctx.too_many_steps()
            value = apply(ctx, value, other)
        return value

    return arith


def _unary(node: n.Unary) -> Fn:
    operand, op = compile_node(node.operand), node.op

    def unary(ctx: Ctx) -> Any:
        value = operand(ctx)
        ctx.steps += 1
        if ctx.steps > ctx.max_steps:
            ctx.too_many_steps()
        if not is_number(value):
            raise ExpressionError(errors.TYPE, f'cannot apply unary "{op}" to {type_name(value)}')
        if op == "+":
            return value
        return check_int(-value) if type(value) is int else -value

    return unary


def _not(node: n.Not) -> Fn:
    operand = compile_node(node.operand)

    def negation(ctx: Ctx) -> bool:
        value = operand(ctx)
        ctx.steps += 1
        if ctx.steps > ctx.max_steps:
            ctx.too_many_steps()
        return not as_condition(value)

    return negation


def _logic(operands: tuple[n.Node, ...], is_or: bool) -> Fn:
    compiled = tuple(compile_node(o) for o in operands)

    def logic(ctx: Ctx) -> bool:
        # Short-circuit: stop at the first operand that decides the result.
        for operand in compiled:
            value = as_condition(operand(ctx))
            ctx.steps += 1
            if ctx.steps > ctx.max_steps:
                ctx.too_many_steps()
            if value is is_or:
                return is_or
        return not is_or

    return logic


def _list(node: n.ListLit) -> Fn:
    items = tuple(compile_node(i) for i in node.items)

    def make_list(ctx: Ctx) -> list[Any]:
        ctx.steps += 1
        if ctx.steps > ctx.max_steps:
            ctx.too_many_steps()
        return check_list(ctx.limits, [item(ctx) for item in items])

    return make_list


def _access(node: n.Access) -> Fn:
    target, steps = compile_node(node.target), _compile_steps(node.steps)
    where = path_text(n.Path("value", node.steps))

    def access(ctx: Ctx) -> Any:
        value = target(ctx)
        ctx.steps += 1
        if ctx.steps > ctx.max_steps:
            ctx.too_many_steps()
        return _walk_strict(ctx, value, steps, where)

    return access


def _default(node: n.Call) -> Fn:
    """``default(x, y)``: y when x is an unresolved bare path or placeholder,
    null, or fails a lookup; y is evaluated only then (SPEC §5.6)."""
    x_node, y_node = node.args
    if isinstance(x_node, n.Path) and x_node.is_bare:
        x = _bare_path(x_node, probe=True)
    elif isinstance(x_node, n.Placeholder):
        x = _placeholder(x_node, probe=True)
    else:
        x = compile_node(x_node)
    y = compile_node(y_node)

    def default(ctx: Ctx) -> Any:
        ctx.steps += 1
        if ctx.steps > ctx.max_steps:
            ctx.too_many_steps()
        try:
            value = x(ctx)
        except ExpressionError as exc:
            if exc.code in errors.LOOKUP_CODES:
                return y(ctx)
            raise
        if value is None or value is MISSING:
            return y(ctx)
        return value

    return default


def _call(node: n.Call) -> Fn:
    if node.name == "default":
        return _default(node)
    fn = FUNCTIONS[node.name]
    impl, produces_string = fn.impl, fn.produces_string
    args = tuple(compile_node(a) for a in node.args)

    def call(ctx: Ctx) -> Any:
        values = [a(ctx) for a in args]
        ctx.steps += 1
        if ctx.steps > ctx.max_steps:
            ctx.too_many_steps()
        result = impl(ctx, *values)
        if produces_string:
            check_string(ctx.limits, result)
        return result

    return call


def _literal(value: Any, check: Callable[[Any], Any]) -> Fn:
    try:
        return _constant(check(value))
    except ExpressionError as exc:
        return _failing(exc)


# Node types whose compiler takes the node and nothing else.
_COMPILERS: dict[type, Callable[[Any], Fn]] = {
    n.Compare: _compare,
    n.StrLit: _string,
    n.Access: _access,
    n.Call: _call,
    n.ListLit: _list,
    n.Unary: _unary,
    n.Not: _not,
    n.Arith: _arith,
}


def compile_node(node: n.Node) -> Fn:
    compiler = _COMPILERS.get(type(node))
    if compiler is not None:
        return compiler(node)
    if isinstance(node, n.Path):
        return _bare_path(node, probe=False) if node.is_bare else _indexed_path(node)
    if isinstance(node, n.IntLit):
        return _literal(node.value, check_int)
    if isinstance(node, n.FloatLit):
        return _literal(node.value, check_float)
    if isinstance(node, n.BoolLit):
        return _constant(node.value)
    if isinstance(node, n.NullLit):
        return _constant(None)
    if isinstance(node, n.Placeholder):
        return _placeholder(node, probe=False)
    if isinstance(node, n.Or):
        return _logic(node.operands, is_or=True)
    if isinstance(node, n.And):
        return _logic(node.operands, is_or=False)
    raise TypeError(f"not an expression node: {node!r}")
