"""Encoding events for the log: type tag + schema version + JSON payload (camelCase keys).

One cattrs converter serves every event class. An *upcaster* turns the payload of an
older schema version into the next one, so a history recorded by an older Aether
still loads as today's event classes (``register_upcaster``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar, get_args, get_origin

import attrs
import orjson
from cattrs import Converter
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from aether.events.catalog import EVENT_TYPES, Event
from aether.events.records import PendingEvent, StoredEvent

T = TypeVar("T")
Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]


class UnknownEventType(Exception):
    def __init__(self, type_name: str) -> None:
        super().__init__(f"unknown event type {type_name!r}: this history was written by a newer Aether")
        self.type_name = type_name


class EventDecodeError(Exception):
    pass


def camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _is_word_list(tp: Any) -> bool:
    return get_origin(tp) is Literal and all(isinstance(arg, str) for arg in get_args(tp))


def _keep_word(value: Any, _type: Any) -> str:
    # A phase, template type or timer purpose this Aether does not know (a history from a
    # newer one) decodes as written, as a plain ``str`` field would, rather than failing.
    # Interned: a run keeps a phase per node and per attempt, one shared string each.
    return sys.intern(str(value))


def _make_converter() -> Converter:
    conv = Converter(omit_if_default=True, forbid_extra_keys=False)

    def unstructure_factory(cls: type) -> Callable[[Any], Payload]:
        overrides = {a.name: override(rename=camel(a.name)) for a in attrs.fields(cls)}
        return make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **overrides)  # type: ignore[arg-type]

    def structure_factory(cls: type) -> Callable[[Payload, type], Any]:
        overrides = {a.name: override(rename=camel(a.name)) for a in attrs.fields(cls)}
        return make_dict_structure_fn(cls, conv, **overrides)  # type: ignore[arg-type]

    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    conv.register_structure_hook_factory(attrs.has, structure_factory)
    # JSON values ("any") pass through untouched in both directions.
    conv.register_structure_hook(Any, lambda value, _type: value)
    conv.register_structure_hook_func(_is_word_list, _keep_word)
    return conv


CONVERTER = _make_converter()
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def register_upcaster(type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register the step that turns version ``from_version`` of a payload into the next."""

    def register(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(type_name, from_version)] = fn
        return fn

    return register


def to_payload(event: Event) -> Payload:
    data: Payload = CONVERTER.unstructure(event)
    return data


def from_payload(type_name: str, schema_version: int, data: Payload) -> Event:
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise UnknownEventType(type_name)
    version = schema_version
    while version < cls.VERSION:
        step = _UPCASTERS.get((type_name, version))
        if step is None:
            raise EventDecodeError(f"{type_name} v{version}: no upcaster to v{version + 1}")
        data = step(data)
        version += 1
    if version > cls.VERSION:
        raise EventDecodeError(f"{type_name} v{version} is newer than this Aether understands (v{cls.VERSION})")
    try:
        event: Event = CONVERTER.structure(data, cls)
    except Exception as exc:  # cattrs raises several exception types for bad payloads
        raise EventDecodeError(f"{type_name} v{schema_version}: {exc}") from exc
    return event


def encode(event: Event) -> PendingEvent:
    return PendingEvent(event.TYPE, event.VERSION, orjson.dumps(to_payload(event)))


def unencodable_reason(events: Iterable[Event]) -> str | None:
    """Why the codec refuses the first of ``events`` it cannot encode (an integer beyond
    64 bits, a lone surrogate, ...), or None when every one encodes."""
    for event in events:
        try:
            encode(event)
        except Exception as exc:  # whatever the codec refuses
            return f"{event.TYPE}: {exc}"
    return None


def decode(stored: StoredEvent) -> Event:
    return from_payload(stored.type, stored.schema_version, orjson.loads(stored.data))


def decode_raw(type_name: str, schema_version: int, data: bytes) -> Event:
    return from_payload(type_name, schema_version, orjson.loads(data))
