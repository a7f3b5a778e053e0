"""The flat variable environment expressions and lookups read (SPEC §4.2).

An environment is a stack of layers, highest precedence first: context keys, then
``tasks.*``, then ``inputs.parameters.*``, then ``workflow.*``, then the variable
sources. ``tasks.*`` is a *view* that answers a key by looking up one node, so
building an environment for a node in a DAG of 100,000 tasks costs nothing; the
evaluator only ever asks ``key in env`` and ``env[key]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from aether.events.phases import Phase
from aether.events.values import BoundParameter, ResultParameter
from aether.model.json_value import JSON
from aether.reducers.state import NodeState, RunState

NodeResolver = Callable[[str], NodeState | None]

_MISSING = object()


class Env(Mapping[str, JSON]):
    __slots__ = ("_layers",)

    def __init__(self, *layers: Mapping[str, JSON]) -> None:
        self._layers = layers

    def __getitem__(self, key: str) -> JSON:
        for layer in self._layers:
            value = layer.get(key, _MISSING)
            if value is not _MISSING:
                return value
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return any(key in layer for layer in self._layers)

    def get(self, key: str, default: JSON = None) -> JSON:
        try:
            return self[key]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        # Only the eager layers can be listed; views answer lookups but cannot enumerate.
        seen: set[str] = set()
        for layer in self._layers:
            if isinstance(layer, dict):
                for key in layer:
                    if key not in seen:
                        seen.add(key)
                        yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)


class TasksView(Mapping[str, JSON]):
    """``tasks.<name>.phase|msg|code|outputs.parameters.<p>`` answered from node records."""

    __slots__ = ("_resolve",)

    def __init__(self, resolve: NodeResolver) -> None:
        self._resolve = resolve

    def _value(self, key: str) -> JSON:
        if not key.startswith("tasks."):
            return _MISSING
        rest = key[6:]
        dot = rest.find(".")
        if dot <= 0:
            return _MISSING
        node = self._resolve(rest[:dot])
        if node is None:
            return _MISSING
        return node_field(node, rest[dot + 1 :])

    def __getitem__(self, key: str) -> JSON:
        value = self._value(key)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._value(key) is not _MISSING

    def get(self, key: str, default: JSON = None) -> JSON:
        value = self._value(key)
        return default if value is _MISSING else value

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def node_field(node: NodeState, field: str) -> JSON:
    if field == "phase":
        return node.phase
    if field == "msg":
        return node.message
    if field == "code":
        return node.last_code if node.last_code is not None else _MISSING
    if field.startswith("outputs.parameters."):
        return parameter_value(node.outputs or (), field[19:])
    return _MISSING


def parameter_value(params: tuple[ResultParameter, ...], name: str) -> JSON:
    """The value of the last parameter called ``name`` (SPEC §4.6: a later duplicate wins)."""
    for param in reversed(params):
        if param.name == name:
            return param.value if param.has_value else _MISSING
    return _MISSING


def inputs_layer(params: tuple[BoundParameter, ...]) -> dict[str, JSON]:
    """``inputs.parameters.<name>``: each bound input's value, else its default.
    Secret inputs are invisible to the engine side (SPEC §4.3)."""
    layer: dict[str, JSON] = {}
    for param in params:
        if param.secret_key_ref is not None:
            continue
        if param.has_value:
            layer["inputs.parameters." + param.name] = param.value
        elif param.default is not None:
            layer["inputs.parameters." + param.name] = param.default
    return layer


def globals_layer(state: RunState) -> dict[str, JSON]:
    """Variable sources then ``workflow.*`` (later wins), memoised on the run's plan."""
    plan = state.plan
    cached: dict[str, JSON] | None = getattr(plan, "_globals_layer", None)
    if cached is not None and cached.get("workflow.runId") == state.run_id:
        return cached
    layer: dict[str, JSON] = dict(state.variables)
    spec = plan.spec
    for param in spec.arguments.parameters if spec.arguments else ():
        value = param.value if param.value is not None else param.default
        layer["workflow.parameters." + param.name] = value
        layer["workflow.arguments.parameters." + param.name] = value
    layer["workflow.name"] = state.name
    layer["workflow.namespace"] = state.namespace
    layer["workflow.runId"] = state.run_id
    plan._globals_layer = layer  # type: ignore[attr-defined]
    return layer


def dag_children_resolver(state: RunState, dag_node: NodeState) -> NodeResolver:
    """Resolve a task name to the node of that task in ``dag_node``'s scope."""
    assert dag_node.template_key is not None and dag_node.dag is not None
    plan = state.plan.dag(dag_node.template_key)
    children = dag_node.dag.children

    def resolve(name: str) -> NodeState | None:
        index = plan.index_by_name.get(name)
        if index is None:
            return None
        node_id = children.get(index)
        return state.get_node(node_id) if node_id is not None else None

    return resolve


def single_node_resolver(state: RunState, name: str, node_id: str | None) -> NodeResolver:
    def resolve(asked: str) -> NodeState | None:
        if asked != name or node_id is None:
            return None
        return state.get_node(node_id)

    return resolve


def no_nodes(_name: str) -> NodeState | None:
    return None


def build_env(
    state: RunState,
    *,
    inputs: tuple[BoundParameter, ...] = (),
    nodes: NodeResolver = no_nodes,
    context: Mapping[str, JSON] | None = None,
) -> Env:
    layers: list[Mapping[str, JSON]] = []
    if context:
        layers.append(context)
    layers.append(TasksView(nodes))
    if inputs:
        layers.append(inputs_layer(inputs))
    layers.append(globals_layer(state))
    return Env(*layers)


def result_context(
    phase: Phase, code: int | None, message: str, outputs: tuple[ResultParameter, ...]
) -> dict[str, JSON]:
    """Bare ``phase``, ``code``, ``msg``, ``outputs.parameters.*`` of one result (SPEC §5.8)."""
    context: dict[str, JSON] = {"phase": phase, "msg": message}
    if code is not None:
        context["code"] = code
    for param in outputs:
        if param.has_value:
            context["outputs.parameters." + param.name] = param.value
    return context
