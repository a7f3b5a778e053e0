"""``aether get``, ``aether list``, ``aether resume`` and ``aether cancel``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from aether.cli.common import DbOption, fail, open_engine, open_queries, print_json
from aether.cli.list_filters import LimitOption, PhaseOption, SinceOption, WorkflowOption, run_filter

# The commands import the engine, the store and rich when they run: registering them
# (for ``--help`` or another command) must stay cheap.
if TYPE_CHECKING:
    from aether.model.json_value import JSON

# The submit decision arms the workflow deadline before it creates any node: these few
# events always hold it.
_SUBMIT_DECISION_EVENTS = 16


def register(app: typer.Typer) -> None:
    @app.command("get")
    def get(
        run_id: str = typer.Argument(..., metavar="RUN", help="Run id."),
        json_output: bool = typer.Option(False, "--json", help="Print the run view as JSON."),
        db: str | None = DbOption,
    ) -> None:
        """Show one run and its tasks."""
        import orjson
        from rich.console import Console

        from aether.cli.run_facts import workflow_deadline
        from aether.cli.whole_ids import id_table, print_table
        from aether.events.times import format_ms
        from aether.reducers.state import TERMINAL_PHASES
        from aether.runtime.engine import RunNotFound
        from aether.runtime.pruning import was_deleted
        from aether.store.history_import import import_record

        queries = open_queries(db)
        try:
            view = queries.get(run_id)
        except RunNotFound as exc:
            fail(str(exc))
        if was_deleted(queries, run_id):
            typer.echo(f"note: run {run_id} was deleted from the listings; the log keeps its history", err=True)
        imported = import_record(queries.engine.log, run_id)
        if imported is not None and not imported.verified:
            # On stderr, so that it shows with --json too without changing the view.
            typer.echo(
                f"warning: run {run_id} was imported from {imported.source} at {imported.at} without "
                f"verification, and its history does not replay ({imported.finding.splitlines()[0].rstrip(':')})",
                err=True,
            )
        if json_output:
            print_json(view)
            return
        console = Console()
        message = f"  {view['message']}" if view["message"] else ""
        console.print(f"run {view['runId']}  {view['name']}  [bold]{view['phase']}[/]{message}")
        console.print(
            f"created {view['createdAt']}  started {view['startedAt'] or '-'}  "
            f"finished {view['finishedAt'] or '-'}  progress {view['progress'] or '-'}"
        )
        if view["outputs"]:
            console.print(f"outputs {orjson.dumps(view['outputs']).decode()}")
        deadline = workflow_deadline(queries.engine.events(run_id, 1, _SUBMIT_DECISION_EVENTS))
        if deadline is not None:
            console.print(deadline.describe(), highlight=False)
        ownership = queries.ownership(run_id)
        if ownership.owner is not None:
            owner = ownership.owner
            console.print(
                f"owner {owner.member_id} (pid {owner.pid} on {owner.host}, lease until {format_ms(owner.expires_ms)})"
            )
        elif view["phase"] not in TERMINAL_PHASES:
            console.print("owner none: waiting for `aether serve` to take the run")
        headers = ("task", "template", "phase", "retries", "worker", "message")
        rows = [
            [str(task[key]) for key in ("id", "templateName", "phase", "retryCount")]
            + [ownership.workers.get(str(task["id"]), ""), str(task["message"])]
            for task in view["tasks"]
        ]
        print_table(id_table(headers, {"task", "worker"}, rows), console)

    @app.command("delete")
    def delete(
        run_ids: list[str] = typer.Argument(..., metavar="RUN...", help="Run ids of finished runs."),
        db: str | None = DbOption,
    ) -> None:
        """Remove finished runs from the listings; the log keeps their history (a RunPruned fact)."""
        from aether.runtime.engine import RunNotFound
        from aether.runtime.pruning import NotPrunable, delete_run

        queries = open_queries(db)
        for run_id in run_ids:
            try:
                phase = delete_run(queries, run_id)
            except (RunNotFound, NotPrunable) as exc:
                fail(str(exc))
            typer.echo(f"deleted {run_id} ({phase})")

    @app.command("prune")
    def prune(
        before: str = typer.Option(..., "--before", help="RFC 3339 time: delete the runs that finished before it."),
        db: str | None = DbOption,
    ) -> None:
        """Remove every run that finished before --before from the listings; the log keeps their history."""
        from aether.events.times import parse_ms
        from aether.runtime.pruning import NotPrunable, delete_run, finished_before

        try:
            parse_ms(before)
        except ValueError:
            fail(f'--before "{before}" is not an RFC 3339 time')
        queries = open_queries(db)
        pruned = finished_before(queries, before)
        for run_id in pruned:
            try:
                delete_run(queries, run_id)
            except NotPrunable:  # deleted meanwhile by another command: nothing left to do
                continue
            typer.echo(run_id)
        typer.echo(f"pruned {len(pruned)} run(s) that finished before {before}", err=True)

    @app.command("list")
    def list_runs(
        json_output: bool = typer.Option(False, "--json", help="Print the runs as JSON."),
        phases: list[str] | None = PhaseOption,
        workflow: str | None = WorkflowOption,
        since: str | None = SinceOption,
        limit: int | None = LimitOption,
        db: str | None = DbOption,
    ) -> None:
        """List the runs in the database, oldest first (newest first with --limit)."""
        from aether.cli.whole_ids import id_table, print_table

        chosen = run_filter(phases, workflow, since, limit)
        rows = open_queries(db).runs(chosen)
        if json_output:
            print_json(rows)
            return
        headers = ("run", "name", "phase", "created", "progress")
        cells = [[str(row[key]) for key in ("runId", "name", "phase", "createdAt", "progress")] for row in rows]
        print_table(id_table(headers, {"run"}, cells))

    @app.command("resume")
    def resume(
        run_id: str = typer.Argument(..., metavar="RUN", help="Run id."),
        node: str = typer.Argument(..., metavar="NODE", help="Node id of the suspended task (e.g. main/approve)."),
        payload: str | None = typer.Option(None, "--payload", help="JSON object merged into the task's inputs."),
        db: str | None = DbOption,
    ) -> None:
        """Resume a suspended task."""
        import orjson

        from aether.runtime.engine import RequestRejected, RunNotFound

        data: dict[str, JSON] = {}
        if payload is not None:
            try:
                data = orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                fail(f"--payload is not JSON: {exc}")
            if not isinstance(data, dict):
                fail("--payload must be a JSON object")
        engine = open_engine(db, workers=0, must_exist=True)
        try:
            engine.resume(run_id, node, data)
        except (RunNotFound, RequestRejected) as exc:
            fail(str(exc))
        typer.echo(f"resumed {node} of run {run_id}")

    @app.command("cancel")
    def cancel(
        run_id: str = typer.Argument(..., metavar="RUN", help="Run id."),
        db: str | None = DbOption,
    ) -> None:
        """Cancel a run: every unfinished task is cancelled."""
        from aether.runtime.engine import RequestRejected, RunNotFound

        engine = open_engine(db, workers=0, must_exist=True)
        try:
            engine.cancel(run_id)
        except (RunNotFound, RequestRejected) as exc:
            fail(str(exc))
        typer.echo(f"cancelled run {run_id}")
