"""The built-in executor set (SPEC §14, §15 ``ExecutorPlugin``)."""

from __future__ import annotations

import pytest

from aether.runtime.executors import BUILTIN_TYPES, ExecutorPlugin, builtin_executors

pytestmark = pytest.mark.spec("14.3", "15")


def test_every_builtin_is_registered_under_its_type() -> None:
    executors = builtin_executors()
    assert list(executors) == ["echo", "shell", "script", "python", "http", "await"]
    assert set(executors) == set(BUILTIN_TYPES)
    for type_name, plugin in executors.items():
        assert isinstance(plugin, ExecutorPlugin)
        assert plugin.type == type_name


def test_builtins_can_be_disabled() -> None:
    assert list(builtin_executors(disabled={"shell", "python"})) == ["echo", "script", "http", "await"]


def test_disabling_an_unknown_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="shel"):
        builtin_executors(disabled=["shel"])


def test_grace_period_reaches_the_process_executors() -> None:
    executors = builtin_executors(grace_seconds=0.25)
    for type_name in ("shell", "script", "python"):
        assert getattr(executors[type_name], "grace_seconds") == 0.25  # noqa: B009 - not in the protocol


@pytest.mark.parametrize("type_name", ["shell", "script", "python", "http"])
def test_missing_required_config_is_a_warning(type_name: str) -> None:
    problems = builtin_executors()[type_name].validate_config(None)
    assert problems
    assert {(p.code, p.severity, p.path) for p in problems} == {("W-EXECUTOR-CONFIG", "warning", "$")}
