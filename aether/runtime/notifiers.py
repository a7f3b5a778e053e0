"""Hook notifiers (SPEC §15 ``HookNotifier``): where ``HookFired`` events are delivered.

Deliveries are at least once with a stable idempotency key; a notifier that raises
is reported as a warning and never affects the run.
"""

from __future__ import annotations

import logging
import threading
import urllib.request
from collections.abc import Callable
from typing import Protocol

import orjson

from aether.model.json_value import JSON

log = logging.getLogger("aether.hooks")


class HookNotifier(Protocol):
    def notify(self, event: dict[str, JSON]) -> None: ...


class LoggingNotifier:
    def notify(self, event: dict[str, JSON]) -> None:
        log.info("hook %s %s %s", event.get("hookType"), event.get("scope"), event.get("nodeId", "-"))


class CallableNotifier:
    def __init__(self, fn: Callable[[dict[str, JSON]], None]) -> None:
        self._fn = fn

    def notify(self, event: dict[str, JSON]) -> None:
        self._fn(event)


class RecordingNotifier:
    """Keeps every delivery (tests, the conformance runner)."""

    def __init__(self) -> None:
        self.events: list[dict[str, JSON]] = []
        self._lock = threading.Lock()

    def notify(self, event: dict[str, JSON]) -> None:
        with self._lock:
            self.events.append(event)


class WebhookNotifier:
    """POSTs each hook event as JSON; the idempotency key travels in ``Idempotency-Key``."""

    def __init__(self, url: str, *, timeout: float = 10.0, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.headers = headers or {}

    def notify(self, event: dict[str, JSON]) -> None:
        body = orjson.dumps(event)
        headers = {"Content-Type": "application/json", **self.headers}
        key = event.get("idempotencyKey")
        if key:
            headers["Idempotency-Key"] = str(key)
        request = urllib.request.Request(self.url, data=body, method="POST", headers=headers)
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            response.read()
