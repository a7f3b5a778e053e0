"""Names of the streams in the event log: one place, so every layer agrees."""

from __future__ import annotations

RUN_PREFIX = "run:"
CRON_PREFIX = "cron:"
TEMPLATE_PREFIX = "template:"
SUBMIT_KEY_PREFIX = "submit-key:"
IMPORT_PREFIX = "import:"
PRUNED_PREFIX = "pruned:"


def run_stream(run_id: str) -> str:
    return RUN_PREFIX + run_id


def run_id_of(stream: str) -> str | None:
    """The run id of a run stream, or None for any other stream."""
    return stream[len(RUN_PREFIX) :] if stream.startswith(RUN_PREFIX) else None


def cron_stream(namespace: str, name: str) -> str:
    return f"{CRON_PREFIX}{namespace}/{name}"


def template_stream(namespace: str, name: str) -> str:
    return f"{TEMPLATE_PREFIX}{namespace}/{name}"


def submit_key_stream(key: str) -> str:
    return SUBMIT_KEY_PREFIX + key


def import_stream(run_id: str) -> str:
    """Where ``aether import`` records how a run came into this log (beside, never in, its
    run stream: the run's own history stays exactly as exported)."""
    return IMPORT_PREFIX + run_id


def pruned_stream(run_id: str) -> str:
    """Where ``aether delete`` and ``aether prune`` record that a run left the read models
    (``RunPruned``, as a cron's history limits record it in the cron stream); the run's own
    stream stays as it was."""
    return PRUNED_PREFIX + run_id
