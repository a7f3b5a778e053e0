"""Registered variable sources (SPEC §5.3): their namespaces are names in expressions.

A name like ``deploy.cluster-name`` reads the ``cluster-name`` variable of a source
registered as ``deploy``; validation must not mistake it for a subtraction
(W-EXPR-HYPHEN), which a strict engine would refuse.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.documents import dag, echo_task, workflow

from aether.runtime.engine import Engine
from aether.runtime.variables import StaticVars, SystemVars

pytestmark = pytest.mark.spec("5.3", "15")

JSON = Any


def gated(when: str) -> dict[str, JSON]:
    return workflow("gated", dag("main", echo_task("ship", when=when)))


def test_a_strict_engine_accepts_and_reads_a_registered_namespace() -> None:
    engine = Engine(variables=[SystemVars(), StaticVars("deploy", {"cluster-name": "eu"})], strict=True, workers=1)
    assert engine.variable_namespaces() == ["system", "deploy"]
    shipped = engine.run(gated("deploy.cluster-name == 'eu'"), timeout=30)
    assert shipped["phase"] == "Succeeded"
    assert {t["id"]: t["phase"] for t in shipped["tasks"]}["main/ship"] == "Succeeded"
    skipped = engine.run(gated("deploy.cluster-name == 'us'"), timeout=30)
    assert {t["id"]: t["phase"] for t in skipped["tasks"]}["main/ship"] == "Skipped"


def test_an_unregistered_namespace_still_warns() -> None:
    engine = Engine(variables=[SystemVars()], workers=0)
    result = engine.submit(gated("deploy.cluster-name == 'eu'"))
    assert [p.code for p in result.warnings] == ["W-EXPR-HYPHEN"]
