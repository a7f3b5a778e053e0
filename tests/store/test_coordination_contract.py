"""The ``Coordination`` contract (members, run leases and claims; SPEC §15 ``TaskBroker``:
leases and claims live in the same database as the log), shipped in
``aether.testing.coordination_contract``, run here against every registered adapter: the
in-memory one and SQLite, whose two connections on one file stand for two processes."""

from __future__ import annotations

import pytest

from aether.testing.coordination_contract import CoordinationContract, DurableCoordinationContract

pytestmark = pytest.mark.spec("15", "6.3")


class TestEveryAdapter(CoordinationContract):
    pass


class TestDurableAdapters(DurableCoordinationContract):
    pass
