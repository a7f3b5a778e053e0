"""``aether logs``: what a run's tasks wrote to stdout and stderr, attempt by attempt."""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING

import typer

from aether.cli.common import DbOption, fail, is_terminal, open_queries

# The command imports the read side and the line assembler when it runs: registering it
# (for ``--help`` or another command) must stay cheap.
if TYPE_CHECKING:
    from aether.cli.log_lines import LogLine
    from aether.runtime.queries import QueryService
    from aether.store.task_logs import TaskLogChunk

FOLLOW_POLL_SECONDS = 0.25


class _Printer:
    """Prints lines as ``aether logs`` shows them: a heading whenever the attempt changes,
    the node id before every line when several nodes are shown, or one JSON object a line."""

    def __init__(self, run_id: str, *, with_source: bool, json_output: bool) -> None:
        self.run_id = run_id
        self.with_source = with_source
        self.json_output = json_output
        self.colour = is_terminal() and not json_output
        self._heading: tuple[str, int] | None = None

    def print(self, lines: list[LogLine]) -> None:
        import orjson

        from aether.cli.log_lines import echo_line

        for line in lines:
            if self.json_output:
                typer.echo(orjson.dumps(line.to_json(self.run_id)).decode())
                continue
            if self._heading != (line.node_id, line.attempt):
                self._heading = (line.node_id, line.attempt)
                typer.echo(typer.style(f"==> {line.node_id} attempt {line.attempt} <==", bold=self.colour))
            echo_line(line, with_source=self.with_source, colour=self.colour)


def _advance(seen: dict[tuple[str, int], int], chunks: list[TaskLogChunk]) -> None:
    for chunk in chunks:
        key = (chunk.node_id, chunk.attempt)
        seen[key] = max(seen.get(key, 0), chunk.seq)


def _follow(queries: QueryService, run_id: str, node: str | None, attempt: int | None, printer: _Printer) -> None:
    """Print what arrives until the run has ended and everything it wrote is printed:
    an attempt's output is stored before its result is reported, so once the run is over
    one more read finds the rest."""
    from aether.cli.log_lines import PARTIAL_LINE_MS, LineAssembler

    lines = LineAssembler()
    seen: dict[tuple[str, int], int] = {}
    wait = queries.task_log_waiter()
    while True:
        ended = queries.latest_state(run_id)[0].terminal
        chunks = queries.task_log(run_id, node, attempt, after=seen)
        _advance(seen, chunks)
        printer.print(lines.feed(chunks))
        if ended:
            printer.print(lines.flush())
            return
        printer.print(lines.flush(older_than_ms=time.time_ns() // 1_000_000 - PARTIAL_LINE_MS))
        wait(FOLLOW_POLL_SECONDS)


def register(app: typer.Typer) -> None:
    @app.command("logs")
    def logs(
        run_id: str = typer.Argument(..., metavar="RUN", help="Run id."),
        node: str | None = typer.Argument(None, metavar="NODE", help="Only this node's output (e.g. main/greet)."),
        attempt: int | None = typer.Option(None, "--attempt", min=1, help="Only this attempt (default: every one)."),
        follow: bool = typer.Option(False, "--follow", "-f", help="Go on printing until the run ends."),
        json_output: bool = typer.Option(
            False, "--json", help="One JSON object a line: runId, node, attempt, stream, at, text."
        ),
        db: str | None = DbOption,
    ) -> None:
        """Show what a run's tasks wrote to stdout and stderr.

        Each attempt is headed; without NODE every line starts with its node id (and
        #ATTEMPT after the first attempt). Lines from stderr are marked [stderr], lines of
        Aether's own (such as where output over the L-LOG limit was cut) [aether]."""
        from aether.cli.log_lines import LineAssembler
        from aether.runtime.engine import RunNotFound
        from aether.runtime.queries import NoTaskLogs

        queries = open_queries(db)
        printer = _Printer(run_id, with_source=node is None, json_output=json_output)
        try:
            if follow:
                _follow(queries, run_id, node, attempt, printer)
                return
            for _attempt, chunks in itertools.groupby(
                queries.task_log(run_id, node, attempt), key=lambda c: (c.node_id, c.attempt)
            ):
                lines = LineAssembler()
                printer.print(lines.feed(chunks))
                printer.print(lines.flush())
        except (RunNotFound, NoTaskLogs) as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
