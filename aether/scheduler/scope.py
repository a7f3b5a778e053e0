"""What a node binds against (SPEC §4.5) and the iteration arguments of loops (§8.3)."""

from __future__ import annotations

from aether.expr import interpolate_typed
from aether.model.json_value import JSON
from aether.model.types import DagTask, Parameter
from aether.reducers.state import NodeState, RunState
from aether.scheduler.env import (
    Env,
    build_env,
    dag_children_resolver,
    globals_layer,
    inputs_layer,
    single_node_resolver,
)
from aether.scheduler.hooks import call_site


def declarations_of(state: RunState, node: NodeState) -> tuple[Parameter, ...]:
    """The input declarations of what the node runs (an inline leaf declares its own)."""
    if node.template_key is None:
        site = call_site(state, node)
        return site.inputs.parameters if site is not None and site.inputs else ()
    body = state.plan.template(node.template_key).body
    inputs = getattr(body, "inputs", None)
    return inputs.parameters if inputs is not None else ()


def binding_scope(state: RunState, node: NodeState) -> tuple[tuple[Parameter, ...], Env]:
    """(arguments, environment) for binding ``node``'s declarations (SPEC §4.5)."""
    if node.parent_id is None:
        env = build_env(state, nodes=single_node_resolver(state, node.task_name, node.node_id))
        return (), env
    parent = state.node(node.parent_id)
    if parent.template_type == "dag":
        site: DagTask | None = call_site(state, node)
        arguments = site.arguments.parameters if site is not None and site.arguments else ()
        env = build_env(state, inputs=parent.inputs, nodes=dag_children_resolver(state, parent))
        return arguments, env
    return iteration_arguments(state, parent, node), build_env(state, inputs=parent.inputs)


def iteration_arguments(state: RunState, loop_node: NodeState, node: NodeState) -> tuple[Parameter, ...]:
    """SPEC §8.3: item arguments, ``loop_iter.index``, then the loop's own arguments."""
    assert loop_node.loop is not None and loop_node.template_key is not None and node.index is not None
    loop = state.plan.loop_template(loop_node.template_key)
    index = node.index
    args: list[Parameter] = []
    context: dict[str, JSON] = {"loop_iter.index": index, "iterator.index": index}
    items = loop_node.loop.items
    if items is not None:
        item = items[index]
        if isinstance(item, dict):
            for key, value in item.items():
                args.append(Parameter(name=key, value=value))
                context[key] = value
        else:
            args.append(Parameter(name="loop_iter.item", value=item))
        # Extension (§17 #14): the whole object is visible as the item in this context.
        context["loop_iter.item"] = item
        context["iterator.item"] = item
    args.append(Parameter(name="loop_iter.index", value=index))
    env = Env(context, inputs_layer(loop_node.inputs), globals_layer(state))
    for param in loop.arguments.parameters if loop.arguments else ():
        value = param.value
        if isinstance(value, str):
            value = interpolate_typed(value, env)
        args.append(Parameter(name=param.name, type=param.type, value=value))
    return tuple(args)
