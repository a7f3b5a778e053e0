"""Helpers shared by the expression tests (imported as a plain module: pytest
puts this directory on ``sys.path``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from aether.expr import ExpressionError, evaluate


class StrictEnv(Mapping[str, Any]):
    """A flat environment that fails the test if anyone iterates or sizes it,
    as the scheduler's lazy environments may not support either."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data
        self.probes: list[str] = []

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        assert isinstance(key, str)
        self.probes.append(key)
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the environment must not be iterated")

    def __len__(self) -> int:
        raise AssertionError("the environment must not be sized")


def value(source: str, env: dict[str, Any] | None = None) -> Any:
    return evaluate(source, StrictEnv(env or {})).value


def error(source: str, env: dict[str, Any] | None = None) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        evaluate(source, StrictEnv(env or {}))
    return info.value
