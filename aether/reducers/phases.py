"""The phase machine of SPEC §6.4 as transition tables. Any move not listed is a bug."""

from __future__ import annotations

RESULT_PHASES = frozenset({"Succeeded", "Failed", "Error", "Timeout"})
_ANY_NON_TERMINAL = ("Created", "Ready", "Running", "Suspended")


def _edges(*pairs: tuple[tuple[str, ...], tuple[str, ...]]) -> frozenset[tuple[str, str]]:
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

INITIAL_NODE_PHASES = frozenset({"Created", "Skipped"})


def leaf_allows(from_phase: str, to_phase: str) -> bool:
    return (from_phase, to_phase) in LEAF_EDGES


def container_allows(from_phase: str, to_phase: str) -> bool:
    return (from_phase, to_phase) in CONTAINER_EDGES


def run_allows(from_phase: str, to_phase: str) -> bool:
    return (from_phase, to_phase) in RUN_EDGES


def node_allows(template_type: str, from_phase: str, to_phase: str) -> bool:
    if template_type == "task":
        return leaf_allows(from_phase, to_phase)
    return container_allows(from_phase, to_phase)
