"""Outputs of leaves (SPEC §4.6.1), DAGs (§4.6.2) and loops (§8.5)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aether.events.values import ResultParameter
from aether.model.json_value import JSON
from aether.model.limits import Limits
from aether.model.types import LoopTemplate, Parameter
from aether.reducers.state import NodeState
from aether.scheduler.binding import resolve_value_from


def merge_parameters(base: Sequence[ResultParameter], update: Sequence[ResultParameter]) -> tuple[ResultParameter, ...]:
    """``update`` merged over ``base``: same name replaced in place, new names appended."""
    merged = list(base)
    positions = {param.name: i for i, param in enumerate(merged)}
    for param in update:
        if param.name in positions:
            merged[positions[param.name]] = param
        else:
            positions[param.name] = len(merged)
            merged.append(param)
    return tuple(merged)


def leaf_outputs(
    raw: Sequence[ResultParameter], declaration: Sequence[Parameter] | None
) -> tuple[ResultParameter, ...]:
    """The declaration is a whitelist with static fallbacks; none means the raw parameters."""
    if not declaration:
        return tuple(raw)
    produced: dict[str, ResultParameter] = {}
    for param in raw:
        produced[param.name] = param
    outputs: list[ResultParameter] = []
    for decl in declaration:
        got = produced.get(decl.name)
        if got is not None and got.has_value and got.value is not None:
            outputs.append(got)
        elif decl.value is not None:
            outputs.append(ResultParameter(decl.name, decl.value, True, decl.type))
    return tuple(outputs)


def dag_outputs(
    declaration: Sequence[Parameter], env: Mapping[str, JSON], limits: Limits
) -> tuple[tuple[ResultParameter, ...], tuple[str, ...]]:
    outputs: list[ResultParameter] = []
    warnings: list[str] = []
    for decl in declaration:
        if decl.value_from is not None:
            resolved = resolve_value_from(decl.value_from, env, limits, decl.name)
            if resolved.ok and resolved.secret is None:
                outputs.append(ResultParameter(decl.name, resolved.value, True, decl.type))
            else:
                warnings.append(f'W-OUTPUT: output "{decl.name}" left out: {resolved.warning or "secret"}')
        elif decl.value is not None:
            outputs.append(ResultParameter(decl.name, decl.value, True, decl.type))
        else:
            outputs.append(ResultParameter(decl.name, None, False, decl.type))
    return tuple(outputs), tuple(warnings)


def loop_outputs(loop: LoopTemplate, iterations: Sequence[NodeState]) -> tuple[ResultParameter, ...]:
    """SPEC §8.5 over the iterations in index order."""
    strategy = (loop.aggregate.strategy if loop.aggregate else None) or "last"
    keep = list(loop.aggregate.parameters or ()) if loop.aggregate else []
    if not iterations:
        if strategy != "list":
            return ()
        declared = keep or [p.name for p in (loop.outputs.parameters if loop.outputs else ())]
        return tuple(ResultParameter(name, [], True) for name in declared)
    if any(it.phase not in ("Succeeded", "Skipped") for it in iterations):
        return ()
    if strategy in ("last", "first"):
        chosen = iterations[-1] if strategy == "last" else iterations[0]
        return tuple(p for p in chosen.outputs or () if not keep or p.name in keep)
    names: list[str] = []
    for it in iterations:
        for param in it.outputs or ():
            if param.name not in names and (not keep or param.name in keep):
                names.append(param.name)
    result = []
    for name in names:
        column = []
        for it in iterations:
            value = None
            for param in reversed(it.outputs or ()):
                if param.name == name:
                    value = param.value if param.has_value else None
                    break
            column.append(value)
        result.append(ResultParameter(name, column, True))
    return tuple(result)
