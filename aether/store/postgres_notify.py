"""Waking up on PostgreSQL notifications instead of polling.

Writers send ``NOTIFY`` in the transaction that writes (appends notify
:data:`~aether.store.postgres.EVENTS_CHANNEL` with the log's last position), and PostgreSQL
delivers it when, and only if, that transaction commits. A :class:`Listener` holds one
connection of its own that ``LISTEN``s on some channels, on a daemon thread, and turns each
notification into a wake-up: :meth:`Listener.wait` returns as soon as one arrived, and the
callbacks of :meth:`Listener.add_callback` run.

A notification is a hint, never the data. Callers re-read the tables after a wake-up and
still re-read now and then without one: a notification sent while the listener was
reconnecting is lost, and several may be folded into one wake-up. A missed notification
therefore only delays the reader until its next read; it never hides a row. After a lost
connection the listener reconnects (retrying with a growing pause) and wakes its callers
once, since something may have been missed meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from aether.store.base import StoreError
from aether.store.postgres_connect import connect, redacted

# The thread checks for close() this often while no notification arrives.
POLL_SECONDS = 0.2
# Pauses between reconnection attempts: doubling from the first up to the last.
RECONNECT_FIRST_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 5.0

NotificationCallback = Callable[[str, str], None]
"""Called with the channel and the payload, on the listener's thread; after a reconnection,
once per channel with an empty payload."""

_log = logging.getLogger(__name__)


class Listener:
    """Notifications on ``channels`` of the database ``url``, received on a daemon thread.

    The channels are listened to when the constructor returns (a connection that cannot be
    made raises :class:`StoreError` naming the URL without its password), so nothing
    committed after that is missed while the connection lasts.
    """

    def __init__(self, url: str, channels: Sequence[str]) -> None:
        if isinstance(channels, str) or not channels:
            raise ValueError(f"channels must be a non-empty sequence of names, not {channels!r}")
        self._url = url
        self._where = redacted(url)
        self._channels = tuple(channels)
        self._woken = threading.Event()
        self._closing = threading.Event()
        self._callbacks: list[NotificationCallback] = []
        self._callbacks_lock = threading.Lock()
        conn = self._listen()
        self._thread = threading.Thread(target=self._run, args=(conn,), name="aether-listener", daemon=True)
        self._thread.start()

    @property
    def channels(self) -> tuple[str, ...]:
        return self._channels

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a notification arrives, at most ``timeout`` seconds; True if one
        arrived since the previous ``wait`` returned (even before this call)."""
        woken = self._woken.wait(timeout)
        if woken:
            # One arriving between the wait and the clear is folded into this wake-up: the
            # caller re-reads after it, and the notifier committed before notifying.
            self._woken.clear()
        return woken

    def add_callback(self, callback: NotificationCallback) -> None:
        """Call ``callback(channel, payload)`` on the listener's thread for every
        notification from now on. It must return quickly and not raise (a raise is logged)."""
        with self._callbacks_lock:
            self._callbacks.append(callback)

    def close(self) -> None:
        """Stop listening and close the connection (idempotent); waits for the thread."""
        self._closing.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closing.is_set() else "listening"
        return f"Listener({self._where!r}, {list(self._channels)!r}, {state})"

    # -- the listener's thread -----------------------------------------------------------

    def _listen(self) -> psycopg.Connection[Any]:
        conn = connect(self._url)  # autocommit: a LISTEN takes effect at once
        try:
            for channel in self._channels:
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"cannot listen on {self._where}: {exc}") from exc
        return conn

    def _run(self, conn: psycopg.Connection[Any] | None) -> None:
        try:
            while conn is not None and not self._closing.is_set():
                try:
                    for notification in conn.notifies(timeout=POLL_SECONDS):
                        self._deliver(notification.channel, notification.payload)
                        if self._closing.is_set():
                            break
                except psycopg.Error as exc:
                    _log.warning("lost the notification connection to %s (%s); reconnecting", self._where, exc)
                    conn.close()
                    conn = self._reconnect()
                    if conn is not None:
                        for channel in self._channels:
                            self._deliver(channel, "")
        finally:
            if conn is not None:
                conn.close()

    def _reconnect(self) -> psycopg.Connection[Any] | None:
        """A new listening connection, retried until it is made; None if closed meanwhile."""
        pause = RECONNECT_FIRST_SECONDS
        while not self._closing.wait(pause):
            try:
                return self._listen()
            except StoreError as exc:
                _log.warning("cannot listen on %s yet (%s); retrying in %.1f s", self._where, exc, pause)
                pause = min(pause * 2, RECONNECT_MAX_SECONDS)
        return None

    def _deliver(self, channel: str, payload: str) -> None:
        self._woken.set()
        with self._callbacks_lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(channel, payload)
            except Exception:
                _log.exception("a notification callback on %s failed", self._where)


__all__ = ["Listener", "NotificationCallback"]
