"""The read side of an event log kept in SQL tables (``events``, ``streams``), the same on
SQLite and PostgreSQL but for the placeholder: reads page through version ranges and
stream names, so no query holds a connection for a whole long stream and memory stays
bounded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aether.store.base import StoredEvent

# Rows fetched per query when read() or streams() page through a result.
PAGE_SIZE = 1000

_EVENT_COLUMNS = "stream, version, position, type, schema_version, data, recorded_at"


class SqlLogReads:
    """``read``, ``read_all``, ``stream_version``, ``streams`` and ``last_position`` over
    :meth:`_query`. A subclass sets ``PLACEHOLDER`` (``?`` or ``%s``) and implements
    ``_query(sql, params) -> rows``, which refuses a closed log."""

    PLACEHOLDER = "?"

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        raise NotImplementedError

    def _sql(self, text: str) -> str:
        return text.replace("?", self.PLACEHOLDER)

    def read(self, stream: str, from_version: int = 1, to_version: int | None = None) -> Iterator[StoredEvent]:
        """The stream's events in ``[from_version, to_version]``, fetched a page at a time.

        The upper end is fixed when ``read`` is called (the stream's version then, if
        ``to_version`` is None), so events appended during the iteration are not included.
        """
        last = self.stream_version(stream)
        high = last if to_version is None else min(to_version, last)
        return self._read_pages(stream, max(from_version, 1), high)

    def _read_pages(self, stream: str, low: int, high: int) -> Iterator[StoredEvent]:
        # Versions are contiguous, so a page is a version range: no OFFSET, no LIMIT.
        sql = self._sql(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE stream = ? AND version BETWEEN ? AND ? ORDER BY version"
        )
        while low <= high:
            top = min(low + PAGE_SIZE - 1, high)
            for row in self._query(sql, (stream, low, top)):
                yield StoredEvent(*row)
            low = top + 1

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, not {limit}")
        if limit == 0:
            self._query("SELECT 1", ())  # still refuses a closed log
            return []
        sql = self._sql(f"SELECT {_EVENT_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?")
        return [StoredEvent(*row) for row in self._query(sql, (after_position, limit))]

    def stream_version(self, stream: str) -> int:
        rows = self._query(self._sql("SELECT version FROM streams WHERE stream = ?"), (stream,))
        return int(rows[0][0]) if rows else 0

    def streams(self, prefix: str = "") -> Iterator[str]:
        """Stream names starting with ``prefix`` in sorted order, fetched a page at a time."""
        self._query("SELECT 1", ())  # refuse a closed log now, not at the first next()
        return self._stream_pages(prefix)

    def _stream_pages(self, prefix: str) -> Iterator[str]:
        # [prefix, upper) is exactly the names starting with prefix: both databases compare
        # the names byte-wise (SQLite's TEXT, PostgreSQL's COLLATE "C"), and UTF-8 byte
        # order is code point order (Python's order).
        upper = prefix_upper_bound(prefix)
        sql = "SELECT stream FROM streams WHERE stream >= ? AND stream > ?"
        params: list[Any] = [prefix, ""]
        if upper is not None:
            sql += " AND stream < ?"
            params.append(upper)
        sql = self._sql(sql + " ORDER BY stream LIMIT ?")
        params.append(PAGE_SIZE)
        while True:
            rows = self._query(sql, tuple(params))
            for (name,) in rows:
                yield name
            if len(rows) < PAGE_SIZE:
                return
            params[1] = rows[-1][0]

    def last_position(self) -> int:
        rows = self._query("SELECT max(position) FROM events", ())
        return int(rows[0][0] or 0)


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string above every string that starts with ``prefix``; None if unbounded."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if code <= 0x10FFFF:
            # Surrogates cannot be stored as UTF-8, so no name contains one: skip them.
            chars[-1] = chr(0xE000 if 0xD800 <= code <= 0xDFFF else code)
            return "".join(chars)
        chars.pop()
    return None


__all__ = ["PAGE_SIZE", "SqlLogReads", "prefix_upper_bound"]
