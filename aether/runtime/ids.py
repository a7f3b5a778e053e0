"""Identifier generators (SPEC §15 ``IdGenerator``). Called only by the shell; ids enter
runs through events."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from typing import Protocol

from ulid import ULID


class IdGenerator(Protocol):
    def new_id(self, kind: str, hint: Mapping[str, str]) -> str: ...


class UlidGenerator:
    """Lexicographically sortable, globally unique ids."""

    def new_id(self, kind: str, hint: Mapping[str, str]) -> str:
        return str(ULID()).lower()


class SequentialIds:
    """``"1"``, ``"2"``, … — for tests and the conformance runner."""

    def __init__(self, start: int = 1) -> None:
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def new_id(self, kind: str, hint: Mapping[str, str]) -> str:
        with self._lock:
            return str(next(self._counter))
