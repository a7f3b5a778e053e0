"""The ``TaskQueue`` contract (SPEC §15 ``TaskBroker``: priority then dispatch order, each
assignment claimed once; §14.1: a worker runs the executor types it has), shipped in
``aether.testing.task_queue_contract``, run here against every adapter whose logs keep a
task queue: SQLite, whose several connections on one file stand for several processes."""

from __future__ import annotations

import pytest

from aether.testing.task_queue_contract import TaskQueueContract

pytestmark = pytest.mark.spec("15", "14.1", "6.3")


class TestTaskQueueAdapters(TaskQueueContract):
    pass
