"""Appenders for the PostgreSQL tests that race threads and processes on one database (a plain
module, so that a spawned child process can import it)."""

from __future__ import annotations

from typing import Any

from aether.store.base import ANY_VERSION
from aether.store.postgres import PostgresEventLog
from aether.testing.log_checks import event


def append_rounds(url: str, writer: str, rounds: int, start: Any) -> None:
    """Append ``rounds`` batches to ``url``: each a few events to ``<writer>`` and one to a
    stream every writer shares, unchecked, so writers never conflict and always race."""
    log = PostgresEventLog(url, pool_size=1)
    try:
        start.wait(timeout=60)
        for n in range(rounds):
            log.append_batch(
                [
                    (writer, [event(writer, 3 * n + i) for i in range(3)], ANY_VERSION),
                    ("shared", [event(writer, n)], ANY_VERSION),
                ]
            )
    finally:
        log.close()
