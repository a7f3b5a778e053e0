"""Task logs as lines, for ``aether logs`` and ``aether run``: the stored chunks are what a
worker read from a pipe at a time, so a line may span chunks and a chunk may end inside a
character; lines are put back together per attempt and stream before they are decoded
(invalid UTF-8 shows as replacement characters)."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterable
from typing import TextIO

import typer
from attrs import frozen

from aether.events.times import format_ms
from aether.model.json_value import JSON
from aether.store.task_logs import Stream, TaskLogChunk

# How long a line without its end waits before it is shown anyway (a progress counter).
PARTIAL_LINE_MS = 500
_MARKERS: dict[Stream, str] = {"stdout": "", "stderr": "[stderr] ", "message": "[aether] "}
_COLOURS: dict[Stream, str | None] = {"stdout": None, "stderr": typer.colors.RED, "message": typer.colors.YELLOW}


@frozen
class LogLine:
    node_id: str
    attempt: int
    stream: Stream
    at_ms: int
    data: bytes  # without its line end

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    @property
    def source(self) -> str:
        """Who wrote it: the node id, and the attempt after the first."""
        return self.node_id if self.attempt == 1 else f"{self.node_id}#{self.attempt}"

    def to_json(self, run_id: str) -> dict[str, JSON]:
        value: dict[str, JSON] = {
            "runId": run_id,
            "node": self.node_id,
            "attempt": self.attempt,
            "stream": self.stream,
            "at": format_ms(self.at_ms),
            "text": self.text,
        }
        try:
            self.data.decode("utf-8")
        except UnicodeDecodeError:
            value["base64"] = base64.b64encode(self.data).decode("ascii")  # the bytes as written
        return value

    def human(self, *, with_source: bool) -> str:
        prefix = f"{self.source}: " if with_source else ""
        return f"{prefix}{_MARKERS[self.stream]}{self.text}"


class LineAssembler:
    """Whole lines out of chunks, in the order the chunks are fed. A message of the runtime
    ends the attempt's unfinished lines first, so they are not joined to what follows it."""

    def __init__(self) -> None:
        self._partial: dict[tuple[str, int, Stream], tuple[bytearray, int]] = {}

    def feed(self, chunks: Iterable[TaskLogChunk]) -> list[LogLine]:
        lines: list[LogLine] = []
        for chunk in chunks:
            if chunk.stream == "message":
                lines.extend(self._end_attempt(chunk.node_id, chunk.attempt))
            key = (chunk.node_id, chunk.attempt, chunk.stream)
            buffer, first_ms = self._partial.pop(key, (bytearray(), chunk.at_ms))
            buffer += chunk.data
            *whole, rest = bytes(buffer).split(b"\n")
            for data in whole:
                lines.append(LogLine(chunk.node_id, chunk.attempt, chunk.stream, first_ms, _without_cr(data)))
                first_ms = chunk.at_ms
            if rest:
                self._partial[key] = (bytearray(rest), first_ms)
        return lines

    def flush(self, older_than_ms: int | None = None) -> list[LogLine]:
        """The unfinished lines (those begun before ``older_than_ms`` only, if given)."""
        lines: list[LogLine] = []
        for key, (buffer, first_ms) in list(self._partial.items()):
            if older_than_ms is None or first_ms < older_than_ms:
                del self._partial[key]
                node_id, attempt, stream = key
                lines.append(LogLine(node_id, attempt, stream, first_ms, bytes(buffer)))
        return lines

    def _end_attempt(self, node_id: str, attempt: int) -> list[LogLine]:
        lines: list[LogLine] = []
        for key in [k for k in self._partial if k[0] == node_id and k[1] == attempt]:
            buffer, first_ms = self._partial.pop(key)
            lines.append(LogLine(node_id, attempt, key[2], first_ms, bytes(buffer)))
        return lines


def _without_cr(data: bytes) -> bytes:
    return data[:-1] if data.endswith(b"\r") else data


def echo_line(line: LogLine, *, with_source: bool, out: TextIO | None = None, colour: bool = False) -> None:
    """Print ``line`` (stderr and the runtime's messages in colour when ``colour``)."""
    text = line.human(with_source=with_source)
    stream = out if out is not None else sys.stdout
    if colour and _COLOURS[line.stream] is not None:
        text = typer.style(text, fg=_COLOURS[line.stream])
    stream.write(text + "\n")
    stream.flush()


__all__ = ["PARTIAL_LINE_MS", "LineAssembler", "LogLine", "echo_line"]
