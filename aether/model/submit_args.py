"""Submit-time arguments (SPEC §6.1, §3.3.11): each replaces the ``value`` of the
workflow argument with that name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import evolve

from aether.model.limits import DEFAULT_LIMITS, Limits
from aether.model.problems import Problem, error
from aether.model.storable import UNSTORABLE, printable, storable_problem
from aether.model.types import ParameterBlock, Workflow


def apply_submit_arguments(
    workflow: Workflow, arguments: Mapping[str, Any], limits: Limits = DEFAULT_LIMITS
) -> tuple[Workflow, list[Problem]]:
    """The Workflow with the submitted values, and E-SUBMIT-ARG-UNKNOWN for each name
    that is not a parameter of ``spec.arguments`` (those are not applied), and
    E-VALUE-UNSTORABLE for each value the log cannot store (SPEC §3.2)."""
    spec = workflow.spec
    block = spec.arguments if spec is not None else None
    params = block.parameters if block is not None else ()
    names = {p.name for p in params}
    problems = [
        error(
            "E-SUBMIT-ARG-UNKNOWN",
            "$.spec.arguments.parameters",
            f'argument "{printable(name)}" is not a workflow parameter',
        )
        for name in arguments
        if name not in names
    ]
    for index, param in enumerate(params):
        if param.name in arguments:
            where = f"$.spec.arguments.parameters[{index}].value"
            unstorable = storable_problem(arguments[param.name], limits, path=where)
            if unstorable is not None:
                message = f'argument "{printable(param.name)}": {unstorable.message}'
                problems.append(error(UNSTORABLE, unstorable.path, message))
    if spec is None or block is None or not any(p.name in arguments for p in params):
        return workflow, problems
    # Every parameter of that name gets the value, so "the last one wins" lookups agree.
    replaced = tuple(evolve(p, value=arguments[p.name]) if p.name in arguments else p for p in params)
    new_block: ParameterBlock = evolve(block, parameters=replaced)
    return evolve(workflow, spec=evolve(spec, arguments=new_block)), problems
