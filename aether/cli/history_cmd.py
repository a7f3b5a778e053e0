"""``aether history`` (the audit trail) and ``aether projections`` (the read models)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import orjson
import typer

from aether.cli.common import DbOption, fail, open_engine
from aether.events.streams import run_stream
from aether.projections.history_entries import HistoryEntry, iter_history
from aether.runtime.engine import Engine, HistoryDecodeError, RunNotFound
from aether.store.audit import iter_phase_history
from aether.store.projector import ProjectionError


def history_entries(engine: Engine, run_id: str, *, phases_only: bool, node: str | None) -> Iterator[HistoryEntry]:
    """The entries ``aether history`` prints. The audit trail (``phases_only``) comes from
    the ``phase_history`` read model, brought up to the log first: the projector has already
    folded every event, so reading its rows is far cheaper than folding the run again. The
    entries are the ones ``iter_history`` would yield (``aether.store.audit``). Without a
    projector, or when the read models cannot be brought up to the log, the run is folded."""
    if not phases_only or engine.projector is None:
        return iter_history(engine.events(run_id), phases_only=phases_only, node=node)
    last = engine.log.stream_version(run_stream(run_id))
    if last == 0:
        raise RunNotFound(run_id)
    try:
        if not engine.projections_cover(run_id, last):
            engine.catch_up_projections()
    except ProjectionError as exc:
        typer.echo(
            f"aether: the read models cannot be brought up to the log ({exc}); folding the run instead", err=True
        )
        return iter_history(engine.events(run_id), phases_only=True, node=node)
    return iter_phase_history(engine.projector.db.conn, run_id, node=node)


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
        engine = open_engine(db, workers=0, must_exist=True)
        assert engine.projector is not None
        started = time.perf_counter()
        count = engine.projector.rebuild()
        typer.echo(f"rebuilt the read models from {count} events in {time.perf_counter() - started:.2f} s")

    @projections.command("status")
    def status(db: str | None = DbOption) -> None:
        """How far the read models are behind the log."""
        engine = open_engine(db, workers=0, must_exist=True)
        assert engine.projector is not None
        typer.echo(f"position {engine.projector.position}, {engine.projector.behind()} events behind the log")
