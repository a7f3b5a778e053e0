"""Submit-time arguments (SPEC §6.1, §3.3.11): each replaces the ``value`` of the
workflow argument with that name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import evolve

from aether.model.problems import Problem, error
from aether.model.types import ParameterBlock, Workflow


def apply_submit_arguments(workflow: Workflow, arguments: Mapping[str, Any]) -> tuple[Workflow, list[Problem]]:
    """The Workflow with the submitted values, and E-SUBMIT-ARG-UNKNOWN for each name
    that is not a parameter of ``spec.arguments`` (those are not applied)."""
    spec = workflow.spec
    block = spec.arguments if spec is not None else None
    params = block.parameters if block is not None else ()
    names = {p.name for p in params}
    problems = [
        error(
            "E-SUBMIT-ARG-UNKNOWN",
            "$.spec.arguments.parameters",
            f'argument "{name}" is not a workflow parameter',
        )
        for name in arguments
        if name not in names
    ]
    if spec is None or block is None or not any(p.name in arguments for p in params):
        return workflow, problems
    # Every parameter of that name gets the value, so "the last one wins" lookups agree.
    replaced = tuple(evolve(p, value=arguments[p.name]) if p.name in arguments else p for p in params)
    new_block: ParameterBlock = evolve(block, parameters=replaced)
    return evolve(workflow, spec=evolve(spec, arguments=new_block)), problems
