"""The phase machine of SPEC §6.4 as transition tables. Any move not listed is a bug."""

from __future__ import annotations

from aether.events.phases import Phase
from aether.model.types import TemplateType

RESULT_PHASES: frozenset[Phase] = frozenset({"Succeeded", "Failed", "Error", "Timeout"})
_ANY_NON_TERMINAL: tuple[Phase, ...] = ("Created", "Ready", "Running", "Suspended")

Edge = tuple[Phase, Phase]


def _edges(*pairs: tuple[tuple[Phase, ...], tuple[Phase, ...]]) -> frozenset[Edge]:
    return frozenset((a, b) for sources, targets in pairs for a in sources for b in targets)


LEAF_EDGES = _edges(
    (("Created",), ("Ready", "Error")),
    (("Ready",), ("Running",)),
    (("Running",), (*RESULT_PHASES, "Suspended")),
    (("Ready", "Running", "Suspended"), tuple(RESULT_PHASES)),  # task deadline
    (("Running", "Suspended", "Ready"), ("Ready", "Created")),  # retry (with or without backoff)
    (("Suspended",), ("Ready",)),  # resume
    (_ANY_NON_TERMINAL, ("Cancelled", "Timeout")),
)

CONTAINER_EDGES = _edges(
    (("Created",), ("Ready",)),
    (("Ready",), ("Running",)),
    (("Created", "Ready", "Running"), ("Succeeded", "Failed", "Error", "Cancelled", "Timeout")),
)

RUN_EDGES = _edges(
    (("Created",), ("Ready",)),
    (("Ready",), ("Running",)),
    (("Created", "Ready", "Running"), ("Succeeded", "Failed", "Error", "Cancelled", "Timeout")),
)

INITIAL_NODE_PHASES: frozenset[Phase] = frozenset({"Created", "Skipped"})


def leaf_allows(from_phase: Phase, to_phase: Phase) -> bool:
    return (from_phase, to_phase) in LEAF_EDGES


def container_allows(from_phase: Phase, to_phase: Phase) -> bool:
    return (from_phase, to_phase) in CONTAINER_EDGES


def run_allows(from_phase: Phase, to_phase: Phase) -> bool:
    return (from_phase, to_phase) in RUN_EDGES


def node_allows(template_type: TemplateType, from_phase: Phase, to_phase: Phase) -> bool:
    if template_type == "task":
        return leaf_allows(from_phase, to_phase)
    return container_allows(from_phase, to_phase)
