"""Forking a recorded run: ``aether retry`` and ``aether reset``.

The new run is submitted with the origin's recorded document, arguments, variable
snapshot and template snapshots, and an ``origin`` that lists the results it may take
over: every leaf that had succeeded (by the end of the origin, or by event ``SEQ`` for a
reset). The decider reuses such a result only when the leaf's freshly bound inputs are
the same and nothing it depends on ran anew, so what failed, errored, timed out or was
cancelled runs again, and so does everything that depends on it.
"""

from __future__ import annotations

from aether.events.catalog import WorkflowSubmitted
from aether.model.json_value import JSON
from aether.reducers.state import RunState


def reusable_results(state: RunState) -> dict[str, dict[str, JSON]]:
    reuse: dict[str, dict[str, JSON]] = {}
    for node in state.nodes_in_order():
        if not node.is_leaf or node.phase != "Succeeded":
            continue
        attempt = node.current_attempt
        if attempt is None or attempt.phase != "Succeeded":
            continue
        reuse[node.node_id] = {
            "inputs": [p.to_wire() for p in attempt.inputs],
            "outputs": [p.to_wire() for p in node.outputs or ()],
            "message": node.message,
        }
    return reuse


def forked_submission(
    original: WorkflowSubmitted,
    state: RunState,
    *,
    run_id: str,
    at: str,
    kind: str,
    at_seq: int | None = None,
) -> WorkflowSubmitted:
    origin: dict[str, JSON] = {
        "runId": original.run_id,
        "kind": kind,
        "reuse": reusable_results(state),
    }
    if at_seq is not None:
        origin["atSeq"] = at_seq
    return WorkflowSubmitted(
        run_id=run_id,
        at=at,
        document=original.document,
        arguments=original.arguments,
        variables=original.variables,
        warnings=original.warnings,
        idempotency_key=None,
        cron=None,
        limits=original.limits,
        templates_snapshot=original.templates_snapshot,
        origin=origin,
    )
