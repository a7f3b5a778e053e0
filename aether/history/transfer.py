"""The format a run's history is exported in and imported from: self-describing JSON Lines.

Line 1 is a header; every further line is one event exactly as stored (type, schema
version, payload), so another installation can replay, verify and inspect it, and an
older history goes through the same upcasters as the log.

Pure: this module writes and checks the lines. Appending an imported history to a log is
the store's (``aether.store.history_import``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import orjson
from attrs import frozen

from aether import __version__
from aether.events.catalog import Event, WorkflowSubmitted
from aether.events.codec import EventDecodeError, UnknownEventType, decode_raw
from aether.events.records import PendingEvent, StoredEvent
from aether.model.json_value import JSON
from aether.reducers.run import apply
from aether.reducers.state import RunState

FORMAT = "aether-history"
FORMAT_VERSION = 1


class ImportError_(Exception):
    """A history file that cannot be imported; the message says which line and why."""


def export_lines(stream: str, events: Iterable[StoredEvent]) -> Iterator[bytes]:
    yield orjson.dumps({"format": FORMAT, "formatVersion": FORMAT_VERSION, "aether": __version__, "stream": stream})
    for stored in events:
        yield orjson.dumps(
            {
                "seq": stored.version,
                "type": stored.type,
                "schemaVersion": stored.schema_version,
                "recordedAt": stored.recorded_at,
                "data": orjson.Fragment(stored.data),
            }
        )


@frozen
class ParsedHistory:
    stream: str
    run_id: str
    events: tuple[PendingEvent, ...]
    source: str = "<input>"
    first_event_line: int = 2

    def decoded(self) -> Iterator[tuple[int, Event]]:
        """(version, event) of every event, as a run stream of the log would give them
        (``parse_lines`` has checked that each decodes)."""
        for version, pending in enumerate(self.events, start=1):
            yield version, decode_raw(pending.type, pending.schema_version, pending.data)


def parse_lines(lines: Iterable[bytes | str], source: str = "<input>") -> ParsedHistory:
    header: dict[str, JSON] | None = None
    events: list[PendingEvent] = []
    run_id = ""
    state: RunState | None = None
    first_line = 0
    for number, raw in enumerate(lines, start=1):
        if isinstance(raw, str):
            raw = raw.encode()
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ImportError_(f"{source}:{number}: not JSON: {exc}") from exc
        if header is None:
            if not isinstance(record, dict) or record.get("format") != FORMAT:
                raise ImportError_(f"{source}:{number}: not an Aether history (no '{FORMAT}' header)")
            if record.get("formatVersion", 0) > FORMAT_VERSION:
                raise ImportError_(
                    f"{source}:{number}: format version {record['formatVersion']} is newer than "
                    f"this Aether reads ({FORMAT_VERSION})"
                )
            header = record
            continue
        try:
            seq, type_name = record["seq"], record["type"]
            schema, data = record.get("schemaVersion", 1), orjson.dumps(record["data"])
        except (KeyError, TypeError) as exc:
            raise ImportError_(f"{source}:{number}: missing field {exc}") from exc
        if seq != len(events) + 1:
            raise ImportError_(f"{source}:{number}: event {seq} out of order (expected {len(events) + 1})")
        try:
            event = decode_raw(type_name, schema, data)
        except (UnknownEventType, EventDecodeError) as exc:
            raise ImportError_(f"{source}:{number}: {exc}") from exc
        if seq == 1:
            if not isinstance(event, WorkflowSubmitted):
                raise ImportError_(f"{source}:{number}: a run history starts with WorkflowSubmitted")
            run_id = event.run_id
            first_line = number
        try:
            # Fold as it is read: a history that does not fold would break every reader.
            state = apply(state, event)
        except Exception as exc:
            raise ImportError_(f"{source}:{number}: event {seq} ({type_name}) does not fold: {exc}") from exc
        events.append(PendingEvent(type_name, schema, data))
    if header is None:
        raise ImportError_(f"{source}: empty file")
    if not events:
        raise ImportError_(f"{source}: the history has no events")
    return ParsedHistory(str(header.get("stream") or f"run:{run_id}"), run_id, tuple(events), source, first_line)
