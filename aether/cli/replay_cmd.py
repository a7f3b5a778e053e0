"""``aether replay``, ``aether export``, ``aether import``, ``aether retry`` and ``aether reset``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from aether.cli.common import EXIT_OK, EXIT_RUN_NOT_SUCCEEDED, DbOption, fail, open_engine, open_queries, print_json

# The commands import the history, time travel and the engine when they run: registering
# them (for ``--help`` or another command) must stay cheap.
if TYPE_CHECKING:
    from aether.history.transfer import ParsedHistory
    from aether.history.verify import VerifyResult
    from aether.model.json_value import JSON
    from aether.runtime.time_travel_queries import TimeTravel


def _seq(travel: TimeTravel, run_id: str, text: str) -> int:
    """``--at`` takes an event number or an RFC 3339 time."""
    if text.isdigit():
        return int(text)
    try:
        return travel.seq_at_time(run_id, text)
    except ValueError:
        fail(f'--at "{text}" is neither an event number nor an RFC 3339 time')


def _note_fallback(travel: TimeTravel) -> None:
    if travel.fallback_reason is not None:
        typer.echo(
            f"aether: the read models cannot be brought up to the log ({travel.fallback_reason}); "
            "the run was refolded instead",
            err=True,
        )


def _report_verify(result: VerifyResult, json_output: bool) -> NoReturn:
    """Exit 0 when every decision replays identically, 1 with the first difference."""
    if json_output:
        mismatch = None if result.mismatch is None else result.mismatch.to_json()
        print_json({"verified": result.ok, "events": result.events, "inputs": result.inputs, "mismatch": mismatch})
    elif result.mismatch is not None:
        typer.echo(result.mismatch.describe(), err=True)
    else:
        typer.echo(f"verified {result.events} events ({result.inputs} inputs): every decision replays identically")
    raise typer.Exit(EXIT_OK if result.ok else EXIT_RUN_NOT_SUCCEEDED)


def _verification_finding(history: ParsedHistory) -> str | None:
    """Why the history's recorded decisions do not replay, or None when they all do."""
    from aether.history.verify import verify_run

    try:
        mismatch = verify_run(history.decoded()).mismatch
    except Exception as exc:  # a forged history may break the decider itself
        return f"verifying the history failed: {exc}"
    return None if mismatch is None else mismatch.describe()


def diff_lines(changes: dict[str, JSON], a: int, b: int) -> list[str]:
    """``aether replay --diff`` as text: one line per changed node, ``old -> new`` per field."""
    import orjson

    def shown(value: JSON) -> str:
        return "-" if value is None else value if isinstance(value, str) else orjson.dumps(value).decode()

    lines = [f"run {changes['runId']} from event {a} to event {b}:"]
    if "phase" in changes:
        before, after = changes["phase"]
        lines.append(f"  <run>: phase {shown(before)} -> {shown(after)}")
    for node in changes["nodes"]:
        fields = [
            f"{key} {shown(value[0])} -> {shown(value[1])}"
            for key, value in node.items()
            if key not in ("id", "change")
        ]
        lines.append(f"  {node['id']} ({node['change']}): {', '.join(fields)}")
    if len(lines) == 1:
        lines.append("  nothing changed")
    return lines


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay(
        run_id: str = typer.Argument(..., metavar="RUN", help="Run id."),
        at: str | None = typer.Option(None, "--at", help="Event number (SEQ) or RFC 3339 time to stop after."),
        diff: tuple[str, str] | None = typer.Option(None, "--diff", help="Show what changed between two points."),
        verify: bool = typer.Option(False, "--verify", help="Re-run the decider and compare every decision."),
        json_output: bool = typer.Option(False, "--json", help="JSON output (for --at, --diff and --verify)."),
        db: str | None = DbOption,
    ) -> None:
        """Travel to any point of a run, compare two points, or check the run replays identically."""
        import orjson

        from aether.projections.view_at import ViewHistoryGap
        from aether.runtime.engine import HistoryDecodeError, RunNotFound
        from aether.runtime.time_travel_queries import TimeTravel

        chosen = [name for name, given in (("--at", at is not None), ("--diff", diff), ("--verify", verify)) if given]
        if len(chosen) > 1:
            fail(f"{' and '.join(chosen)} cannot be combined: give one of --at SEQ, --diff A B or --verify")
        engine = open_engine(db, workers=0, must_exist=True)
        try:
            if verify:
                # Only here: re-running the decider loads the scheduler and the expression parser.
                from aether.history.verify import verify_run

                _report_verify(verify_run(engine.events(run_id)), json_output)
            travel = TimeTravel(engine)
            if diff is not None:
                a, b = (_seq(travel, run_id, point) for point in diff)
                if a < 1 or b < 1:
                    fail("both points must be at or after event 1")
                changes = travel.diff(run_id, a, b)
                if json_output:
                    print_json(changes)
                else:
                    for line in diff_lines(changes, a, b):
                        typer.echo(line)
                _note_fallback(travel)
                return
            if at is None:
                fail("give --at SEQ, --diff A B or --verify")
            seq = min(_seq(travel, run_id, at), travel.last_version(run_id))
            view = travel.view_at(run_id, seq)
        except (RunNotFound, HistoryDecodeError, ViewHistoryGap) as exc:
            fail(str(exc))
        _note_fallback(travel)
        if view is None:
            fail("the run had no events by then")
        if json_output:
            sys.stdout.buffer.write(view.to_json() + b"\n")
            sys.stdout.flush()
        else:
            if not at.isdigit():
                when = f" (the last event at or before {at})"
            else:
                when = " (its last event)" if int(at) > seq else ""
            typer.echo(f"run {view.header['runId']} after event {seq}{when}: {view.header['phase']} {view.progress}")
            for task in view.tasks:
                node = orjson.loads(task)
                typer.echo(f"  {node['id']}: {node['phase']}")

    @app.command("export")
    def export(
        run_id: str = typer.Argument(..., metavar="RUN", help="Run id."),
        db: str | None = DbOption,
    ) -> None:
        """Write the run's history as JSON Lines on stdout (`aether import` reads it)."""
        from aether.runtime.engine import RunNotFound

        try:
            lines = open_queries(db).export(run_id)
        except RunNotFound as exc:
            fail(str(exc))
        out = sys.stdout.buffer
        for line in lines:
            out.write(line + b"\n")
        out.flush()

    @app.command("import")
    def import_(
        file: Path = typer.Argument(..., help="A history written by `aether export`."),
        no_verify: bool = typer.Option(
            False,
            "--no-verify",
            help="Import even a history whose decisions do not replay; `aether get` then marks the run unverified.",
        ),
        db: str | None = DbOption,
    ) -> None:
        """Add an exported run history to this database, once its decisions replay identically."""
        from aether.events.import_events import HistoryImported
        from aether.events.times import format_datetime
        from aether.history.transfer import ImportError_, parse_lines
        from aether.store.history_import import import_history

        try:
            with file.open("rb") as handle:
                history = parse_lines(handle, str(file))
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror}")
        except ImportError_ as exc:
            fail(str(exc))
        # A forged or damaged file would otherwise become a run that looks recorded here.
        finding = _verification_finding(history)
        if finding is not None and not no_verify:
            typer.echo(finding, err=True)
            fail(f"{file} was not imported: its history does not replay (--no-verify imports it anyway)")
        engine = open_engine(db, workers=0)
        record = HistoryImported(
            history.run_id,
            format_datetime(engine.clock.now()),
            str(file),
            verified=finding is None,
            finding=finding or "",
        )
        try:
            run_id = import_history(engine.log, history, record)
        except ImportError_ as exc:
            fail(str(exc))
        if finding is not None:
            typer.echo(f"aether: imported {run_id} unverified: {finding}", err=True)
        typer.echo(run_id)

    @app.command("retry")
    def retry(
        run_id: str = typer.Argument(..., metavar="RUN", help="Run id."),
        db: str | None = DbOption,
    ) -> None:
        """Start a new run that reuses every result that succeeded and re-runs the rest."""
        from aether.runtime.engine import RunNotFound

        engine = open_engine(db, workers=0, must_exist=True)
        try:
            typer.echo(engine.fork(run_id, "retry"))
        except RunNotFound as exc:
            fail(str(exc))

    @app.command("reset")
    def reset(
        run_id: str = typer.Argument(..., metavar="RUN", help="Run id."),
        to: int = typer.Option(..., "--to", min=1, help="Event number: reuse what had succeeded by then."),
        db: str | None = DbOption,
    ) -> None:
        """Start a new run from the history up to event SEQ."""
        from aether.runtime.engine import RunNotFound

        engine = open_engine(db, workers=0, must_exist=True)
        try:
            typer.echo(engine.fork(run_id, "reset", at_seq=to))
        except (RunNotFound, ValueError) as exc:
            fail(str(exc))
