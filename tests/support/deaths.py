"""Process deaths, as tests that restart an engine inside one process simulate them."""

from __future__ import annotations

from aether.runtime.engine import Engine
from aether.store.base import EventLog


def declare_dead(engine: Engine, log: EventLog | None = None) -> None:
    """What the survivors see once ``engine``'s process is gone: its registration removed,
    as a member that finds it expired (or its process missing) removes it. Its run leases
    are then orphaned and its workers' claims dead. The engine object itself must not be
    used again, as a dead process would not be. ``log``: the same database opened again,
    when the engine's own connection is closed."""
    ownership = engine.ownership
    if ownership is None or not ownership.joined:
        return
    coordination = ownership.coordination if log is None else getattr(log, "coordination", None)
    if coordination is not None:
        coordination.remove_members([ownership.member_id])
