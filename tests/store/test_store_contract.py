"""The ``EventLog`` contract (SPEC §15), shipped in ``aether.testing.contract``, run here
against every registered adapter (``aether.testing.adapters.ADAPTERS``)."""

from __future__ import annotations

import pytest

from aether.testing.contract import DurableEventLogContract, EventLogContract

pytestmark = pytest.mark.spec("15")


class TestEveryAdapter(EventLogContract):
    pass


class TestDurableAdapters(DurableEventLogContract):
    pass
