"""A fast ``replace`` for the frozen state records.

Reducers copy a record for every event they apply. ``attrs.evolve`` re-runs
``__init__`` with every field looked up by name, which made it the single largest cost
of folding a run; copying the slots directly is an order of magnitude cheaper. The
function is generated once per class, with every field spelled out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

T = TypeVar("T")
_REPLACERS: dict[type, Callable[..., Any]] = {}


def _make_replacer(cls: type) -> Callable[..., Any]:
    names = [a.name for a in attrs.fields(cls)]
    known = frozenset(names)
    lines = ["def replace(self, changes):", "    new = _new(_cls)"]
    lines += [f"    _set(new, {name!r}, self.{name})" for name in names]
    lines += [
        "    for key, value in changes.items():",
        "        if key not in _known:",
        "            raise TypeError(f'{_cls.__name__} has no field {key!r}')",
        "        _set(new, key, value)",
        "    return new",
    ]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_set": object.__setattr__, "_known": known}
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
