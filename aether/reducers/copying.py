"""A fast ``replace`` for the frozen state records.

Reducers copy a record for every event they apply. ``attrs.evolve`` re-runs
``__init__`` with every field looked up by name, which made it the single largest cost
of folding a run; copying the slots directly is an order of magnitude cheaper. The
function is generated once per class, with every field spelled out.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MemberDescriptorType
from typing import Any, TypeVar

import attrs

T = TypeVar("T")
_REPLACERS: dict[type, Callable[..., Any]] = {}


def _slot_setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    descriptor = getattr(cls, name, None)
    if isinstance(descriptor, MemberDescriptorType):
        setter: Callable[[Any, Any], None] = descriptor.__set__
        return setter
    # Not a slot (a dict-based record): the generic, slower way.
    return lambda obj, value: object.__setattr__(obj, name, value)


def _make_replacer(cls: type) -> Callable[..., Any]:
    names = [a.name for a in attrs.fields(cls)]
    # A slot's own descriptor sets it without going through the class's (frozen)
    # __setattr__ or looking the name up: the cheapest way Python has to fill a slot.
    setters = {name: _slot_setter(cls, name) for name in names}
    lines = ["def replace(self, changes):", "    new = _new(_cls)"]
    lines += [f"    _set_{name}(new, self.{name})" for name in names]
    lines += [
        "    for key, value in changes.items():",
        "        setter = _setters.get(key)",
        "        if setter is None:",
        "            raise TypeError(f'{_cls.__name__} has no field {key!r}')",
        "        setter(new, value)",
        "    return new",
    ]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_setters": setters}
    namespace.update({f"_set_{name}": setter for name, setter in setters.items()})
    exec("\n".join(lines), namespace)
    replacer: Callable[..., Any] = namespace["replace"]
    return replacer


def replace(instance: T, **changes: Any) -> T:
    """A copy of a frozen attrs ``instance`` with ``changes`` applied (no validation)."""
    cls = type(instance)
    replacer = _REPLACERS.get(cls)
    if replacer is None:
        replacer = _REPLACERS[cls] = _make_replacer(cls)
    result: T = replacer(instance, changes)
    return result
