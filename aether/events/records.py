"""Events as the log stores them: a type tag, a schema version and an encoded payload.

They belong to the events layer (the codec produces and reads them); the store only
moves their bytes, and re-exports them from ``aether.store.base``.
"""

from __future__ import annotations

from attrs import frozen


@frozen
class PendingEvent:
    """An event ready to be appended: its type tag, schema version and encoded payload."""

    type: str
    schema_version: int
    data: bytes


@frozen
class StoredEvent:
    stream: str
    version: int
    position: int
    type: str
    schema_version: int
    data: bytes
    recorded_at: float  # seconds since the epoch, when the store committed it
