"""Packages that name their public API but import each name on first use.

A command that needs one submodule (the JSON type, the log interface) must not pay for the
loader, the grammar or sqlite-utils that the package's other names live beside: every
``aether`` command starts by importing some package, and start-up is what the user waits
for first.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from types import ModuleType


def lazy_exports(package: str, homes: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose public names live in the
    submodules ``homes`` names (public name -> submodule): a name is imported the first
    time it is read and then kept on the package."""

    def get(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def names() -> list[str]:
        return sorted({*vars(sys.modules[package]), *homes})

    return get, names


def keep_names_over_submodules(package: str, homes: Mapping[str, str]) -> None:
    """Keep each public name that shares its submodule's name (``aether.model.validate``
    the function, in ``aether.model.validate`` the module) bound to the name, not the
    submodule, once the import system binds the submodule on the package: as it was when
    the package imported its names eagerly."""

    class Package(ModuleType):
        def __setattr__(self, name: str, value: object) -> None:
            if isinstance(value, ModuleType) and homes.get(name) == name:
                value = getattr(value, name)
            super().__setattr__(name, value)

    sys.modules[package].__class__ = Package


__all__ = ["keep_names_over_submodules", "lazy_exports"]
