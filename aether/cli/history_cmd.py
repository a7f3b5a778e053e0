"""``aether history`` (the audit trail) and ``aether projections`` (the read models)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer

from aether.cli.common import DbOption, fail, open_engine, open_queries

if TYPE_CHECKING:
    from aether.projections.history_entries import HistoryEntry
    from aether.runtime.engine import Engine


def history_entries(engine: Engine, run_id: str, *, phases_only: bool, node: str | None) -> Iterator[HistoryEntry]:
    """The entries ``aether history`` prints (``QueryService.history``: the audit trail from
    the ``phase_history`` read model when it can reach the log). When it cannot, the run is
    folded instead, and stderr says so before the first entry."""
    from aether.runtime.queries import QueryService

    queries = QueryService(engine)
    entries = queries.history(run_id, phases_only=phases_only, node=node)
    if queries.fallback_reason is not None:
        typer.echo(
            f"aether: the read models cannot be brought up to the log ({queries.fallback_reason}); "
            "folding the run instead",
            err=True,
        )
    return entries


def register(app: typer.Typer) -> None:
    @app.command("history")
    def history(
        run_id: str = typer.Argument(..., metavar="RUN", help="Run id."),
        json_output: bool = typer.Option(False, "--json", help="One JSON object per line (JSON Lines)."),
        phases_only: bool = typer.Option(False, "--phases-only", help="Only phase changes: the audit trail."),
        node: str | None = typer.Option(None, "--node", help="Only this node and the nodes below it."),
        db: str | None = DbOption,
    ) -> None:
        """Every event of a run with its sequence number, time, node and a one-line summary."""
        import orjson

        from aether.runtime.engine import HistoryDecodeError, RunNotFound

        engine = open_engine(db, workers=0, must_exist=True)
        out = sys.stdout
        try:
            for entry in history_entries(engine, run_id, phases_only=phases_only, node=node):
                if json_output:
                    record = {
                        "seq": entry.seq,
                        "at": entry.at,
                        "type": entry.type,
                        "node": entry.node_id,
                        "summary": entry.summary,
                    }
                    if phases_only:
                        record.update({"from": entry.from_phase, "to": entry.to_phase, "message": entry.message})
                    out.write(orjson.dumps(record).decode() + "\n")
                elif phases_only:
                    reason = f"  ({entry.message})" if entry.message else ""
                    out.write(
                        f"{entry.seq:>7}  {entry.at}  {entry.node_id or '<run>'}: "
                        f"{entry.from_phase or '-'} -> {entry.to_phase}{reason}\n"
                    )
                else:
                    out.write(f"{entry.seq:>7}  {entry.at}  {entry.summary}\n")
        except (RunNotFound, HistoryDecodeError) as exc:
            fail(str(exc))
        except BrokenPipeError:  # `aether history RUN | head` is fine
            sys.stderr.close()

    projections = typer.Typer(help="The read models (runs, tasks, phase history) kept beside the log.")
    app.add_typer(projections, name="projections")

    @projections.command("rebuild")
    def rebuild(db: str | None = DbOption) -> None:
        """Drop the read models and refold them from the whole log."""
        queries = open_queries(db)
        started = time.perf_counter()
        count = queries.rebuild_projections()
        typer.echo(f"rebuilt the read models from {count} events in {time.perf_counter() - started:.2f} s")

    @projections.command("status")
    def status(db: str | None = DbOption) -> None:
        """How far the read models are behind the log, and whether they still agree with it."""
        status = open_queries(db).projection_status()
        typer.echo(f"position {status.position}, {status.behind} events behind the log")
        for damage in status.damage:
            typer.echo(f"damaged: {damage.table}: {damage.finding}", err=True)
        if status.damage:
            fail("the read models disagree with the log: `aether projections rebuild` refolds them", 1)
