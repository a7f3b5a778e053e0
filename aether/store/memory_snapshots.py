"""Snapshots kept in memory (the in-memory counterpart of ``SqliteSnapshotStore``)."""

from __future__ import annotations

import threading

from aether.projections.snapshots import DEFAULT_KEEP, TemplatesSnapshot, check_version
from aether.reducers.state import RunState


class InMemorySnapshotStore:
    """Snapshots held as live objects.

    States are immutable and persistent, so keeping a reference is a snapshot: nothing
    is serialized, and the format check is moot inside one process.
    """

    def __init__(self, *, keep: int | None = DEFAULT_KEEP) -> None:
        if keep is not None and keep < 1:
            raise ValueError(f"keep must be >= 1 or None, not {keep}")
        self.keep = keep
        self._lock = threading.Lock()
        self._streams: dict[str, dict[int, RunState]] = {}

    def save(
        self,
        stream: str,
        version: int,
        state: RunState,
        *,
        templates_snapshot: TemplatesSnapshot | None = None,
    ) -> None:
        check_version(version)
        with self._lock:
            versions = self._streams.setdefault(stream, {})
            versions[version] = state
            if self.keep is not None and len(versions) > self.keep:
                for old in sorted(versions)[: -self.keep]:
                    del versions[old]

    def latest(self, stream: str, at_or_before: int | None = None) -> tuple[int, RunState] | None:
        with self._lock:
            versions = self._streams.get(stream, {})
            usable = [v for v in versions if at_or_before is None or v <= at_or_before]
            if not usable:
                return None
            version = max(usable)
            return version, versions[version]

    def delete(self, stream: str) -> None:
        with self._lock:
            self._streams.pop(stream, None)

    def versions(self, stream: str) -> list[int]:
        with self._lock:
            return sorted(self._streams.get(stream, {}))
