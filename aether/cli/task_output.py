"""``aether run`` showing its tasks' output: each line as it arrives, prefixed by the node
id, and the last lines of the tasks that failed once the run has ended."""

from __future__ import annotations

import sys
import time

from aether.cli.log_lines import PARTIAL_LINE_MS, LineAssembler, LogLine, echo_line
from aether.model.json_value import JSON
from aether.runtime.queries import NoTaskLogs, QueryService

FAILED_PHASES = frozenset({"Failed", "Error", "Timeout"})
FAILURE_LINES = 20
READ_EVERY_SECONDS = 0.2


class TaskOutput:
    def __init__(self, queries: QueryService, run_id: str, *, show: bool, colour: bool = False) -> None:
        self.queries = queries
        self.run_id = run_id
        self.show = show
        self.colour = colour
        self._lines = LineAssembler()
        self._seen: dict[tuple[str, int], int] = {}
        self._last_read = 0.0

    def poll(self) -> None:
        """Print the lines stored since the last call (reading at most every 0.2 s)."""
        if not self.show or time.monotonic() - self._last_read < READ_EVERY_SECONDS:
            return
        self._read()
        self._print(self._lines.flush(older_than_ms=time.time_ns() // 1_000_000 - PARTIAL_LINE_MS))

    def finish(self) -> None:
        """Print what is left: the run has ended, so every attempt's output is stored."""
        if not self.show:
            return
        self._read()
        self._print(self._lines.flush())

    def failure_tails(self, view: dict[str, JSON], count: int = FAILURE_LINES) -> None:
        """The last ``count`` lines of the last attempt of every task that failed, on stderr."""
        for task in view["tasks"]:
            if task["phase"] not in FAILED_PHASES:
                continue
            node_id = str(task["id"])
            try:
                chunks = self.queries.task_log(self.run_id, node_id)
            except NoTaskLogs:
                return
            if not chunks:
                continue
            last_attempt = max(c.attempt for c in chunks)
            assembler = LineAssembler()
            lines = assembler.feed(c for c in chunks if c.attempt == last_attempt) + assembler.flush()
            shown = lines[-count:]
            cut = f"last {len(shown)} of {len(lines)} lines" if len(lines) > len(shown) else "output"
            sys.stderr.write(f"{cut} of {node_id} (attempt {last_attempt}):\n")
            for line in shown:
                echo_line(line, with_source=False, out=sys.stderr)

    def _read(self) -> None:
        self._last_read = time.monotonic()
        try:
            chunks = self.queries.task_log(self.run_id, after=self._seen)
        except NoTaskLogs:
            self.show = False
            return
        for chunk in chunks:
            key = (chunk.node_id, chunk.attempt)
            self._seen[key] = max(self._seen.get(key, 0), chunk.seq)
        self._print(self._lines.feed(chunks))

    def _print(self, lines: list[LogLine]) -> None:
        for line in lines:
            echo_line(line, with_source=True, colour=self.colour)


__all__ = ["TaskOutput"]
