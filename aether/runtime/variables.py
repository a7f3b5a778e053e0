"""Variable sources (SPEC §15 ``VarsSource``): snapshotted once per run at submit."""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from typing import Protocol

from aether.model.json_value import JSON

_GO_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "386",
    "i686": "386",
    "armv7l": "arm",
}


class VarsSource(Protocol):
    namespace: str

    def values(self) -> Mapping[str, JSON]: ...


def go_os() -> str:
    return platform.system().lower()


def go_arch() -> str:
    machine = platform.machine()
    return _GO_ARCH.get(machine, _GO_ARCH.get(machine.lower(), machine.lower()))


class SystemVars:
    """``system.os`` and ``system.arch`` with Go's names (SPEC §16.3)."""

    namespace = "system"

    def values(self) -> Mapping[str, JSON]:
        return {"os": go_os(), "arch": go_arch()}


class StaticVars:
    def __init__(self, namespace: str, values: Mapping[str, JSON]) -> None:
        self.namespace = namespace
        self._values = dict(values)

    def values(self) -> Mapping[str, JSON]:
        return dict(self._values)


def snapshot(sources: Sequence[VarsSource]) -> dict[str, JSON]:
    """Flat dotted keys, sources in registration order (a later one wins on a clash)."""
    flat: dict[str, JSON] = {}
    for source in sources:
        for key, value in source.values().items():
            flat[f"{source.namespace}.{key}"] = value
    return flat
