"""``aether cron …``: register, inspect, change, trigger and backfill CronWorkflows (SPEC §12.6).

Thin: every command opens the engine, wraps it in a ``CronService`` and calls one method.
Bad input (an invalid document, an unknown cron, a refused change) prints a clear message
and exits 2 with nothing written: the service validates before it appends.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from aether.cli.common import DbOption, fail, invalid, open_engine, print_json, report_problems, stored_templates

# The commands import the cron service, the engine and rich when they run: registering
# them (for ``--help`` or another command) must stay cheap.
if TYPE_CHECKING:
    from aether.model.json_value import JSON
    from aether.runtime.cron import CronError, CronService

NamespaceOption = typer.Option(None, "--namespace", "-n", help="Namespace of the cron (default: default).")
JsonOption = typer.Option(False, "--json", help="Print JSON on stdout.")


def _service(db: str | None, *, must_exist: bool = True) -> CronService:
    from aether.runtime.cron import CronService

    # No workers: runs a command submits are executed by `aether serve`.
    return CronService(open_engine(db, workers=0, must_exist=must_exist))


def _refused(exc: CronError) -> NoReturn:
    fail(f"{exc.code}: {exc.message}")


def _show(view: dict[str, JSON]) -> None:
    from rich.console import Console

    from aether.cli.whole_ids import id_table, print_table

    console = Console()
    spec, status = view["spec"], view["status"]
    suspended = "  [bold]suspended[/]" if spec.get("suspend") else ""
    console.print(
        f"cron {view['namespace']}/{view['name']}  {spec.get('schedule')}  ({spec.get('timezone')})"
        f"  {spec.get('concurrencyPolicy')}{suspended}"
    )
    console.print(
        f"last scheduled {status['lastScheduleTime'] or '-'}  last run {status['lastRunId'] or '-'}  "
        f"next {status['nextScheduleTime'] or '-'}"
    )
    rows = [[str(run[key]) for key in ("runId", "scheduledTime", "trigger", "phase")] for run in view["runs"]]
    print_table(id_table(("run", "scheduled", "trigger", "phase"), {"run"}, rows), console)


def register(app: typer.Typer) -> None:
    cron = typer.Typer(name="cron", help="Manage cron workflows (scheduled runs).", no_args_is_help=True)
    app.add_typer(cron, name="cron")

    @cron.command("create")
    def create(
        file: Path = typer.Argument(..., help="CronWorkflow document (JSON or YAML)."),
        db: str | None = DbOption,
    ) -> None:
        """Validate and register a cron workflow; `aether serve` ticks it."""
        from aether.model.problems import ValidationError
        from aether.runtime.cron import CronError, CronService
        from aether.runtime.engine import Engine
        from aether.store.memory import InMemoryEventLog

        # Validate before anything is written: bad input must not even create the file.
        # Template references resolve from the database's WorkflowTemplates (SPEC §13).
        try:
            with stored_templates(db) as lookup:
                prepared = CronService(Engine(InMemoryEventLog(), workers=0, template_lookup=lookup)).prepare(file)
        except ValidationError as exc:
            invalid(str(file), exc)
        report_problems(str(file), list(prepared.warnings))
        try:
            name = _service(db, must_exist=False).create(prepared)
        except CronError as exc:
            _refused(exc)
        typer.echo(f"{prepared.namespace}/{name}")

    @cron.command("list")
    def list_crons(json_output: bool = JsonOption, db: str | None = DbOption) -> None:
        """List the cron workflows."""
        from aether.cli.whole_ids import id_table, print_table

        rows = _service(db).list()
        if json_output:
            print_json(rows)
            return
        headers = ("cron", "schedule", "timezone", "policy", "suspended", "last scheduled", "next", "active")
        cells = [
            [
                f"{row['namespace']}/{row['name']}",
                row["schedule"],
                row["timezone"],
                row["concurrencyPolicy"],
                "yes" if row["suspend"] else "no",
                row["lastScheduleTime"] or "-",
                row["nextScheduleTime"] or "-",
                str(row["active"]),
            ]
            for row in rows
        ]
        print_table(id_table(headers, {"cron"}, cells))

    @cron.command("get")
    def get(
        name: str = typer.Argument(..., help="Cron name (or namespace/name)."),
        namespace: str | None = NamespaceOption,
        json_output: bool = JsonOption,
        db: str | None = DbOption,
    ) -> None:
        """Show a cron workflow: its spec, status and runs in creation order."""
        from aether.runtime.cron import CronError

        try:
            view = _service(db).get(name, namespace)
        except CronError as exc:
            _refused(exc)
        if json_output:
            print_json(view)
        else:
            _show(view)

    @cron.command("update")
    def update(
        name: str = typer.Argument(..., help="Cron name (or namespace/name)."),
        file: Path | None = typer.Argument(None, help="New CronWorkflow document; workflowSpec must be unchanged."),
        schedule: str | None = typer.Option(None, "--schedule", help="New schedule (5 fields or a macro)."),
        timezone: str | None = typer.Option(None, "--timezone", help="New IANA time zone."),
        policy: str | None = typer.Option(None, "--policy", help="Allow, Forbid or Replace."),
        suspend: bool | None = typer.Option(None, "--suspend/--no-suspend", help="Suspend or resume."),
        namespace: str | None = NamespaceOption,
        db: str | None = DbOption,
    ) -> None:
        """Change a cron workflow: every field but workflowSpec."""
        from aether.model.problems import ValidationError
        from aether.runtime.cron import CronError

        if file is None and schedule is None and timezone is None and policy is None and suspend is None:
            fail("nothing to update: give a FILE or one of --schedule, --timezone, --policy, --suspend/--no-suspend")
        service = _service(db)
        try:
            service.update(
                name,
                namespace,
                document=file,
                schedule=schedule,
                timezone=timezone,
                concurrency_policy=policy,
                suspend=suspend,
            )
        except ValidationError as exc:
            invalid(str(file) if file is not None else name, exc)
        except CronError as exc:
            _refused(exc)
        typer.echo(f"updated {name}")

    @cron.command("suspend")
    def suspend_cmd(
        name: str = typer.Argument(...), namespace: str | None = NamespaceOption, db: str | None = DbOption
    ) -> None:
        """Stop ticks from creating runs."""
        from aether.runtime.cron import CronError

        try:
            _service(db).suspend(name, namespace)
        except CronError as exc:
            _refused(exc)
        typer.echo(f"suspended {name}")

    @cron.command("resume")
    def resume_cmd(
        name: str = typer.Argument(...), namespace: str | None = NamespaceOption, db: str | None = DbOption
    ) -> None:
        """Create runs again from the next scheduled time."""
        from aether.runtime.cron import CronError

        try:
            _service(db).resume(name, namespace)
        except CronError as exc:
            _refused(exc)
        typer.echo(f"resumed {name}")

    @cron.command("delete")
    def delete(
        name: str = typer.Argument(...), namespace: str | None = NamespaceOption, db: str | None = DbOption
    ) -> None:
        """Stop ticking; the cron's runs are kept."""
        from aether.runtime.cron import CronError

        try:
            _service(db).delete(name, namespace)
        except CronError as exc:
            _refused(exc)
        typer.echo(f"deleted {name}")

    @cron.command("trigger")
    def trigger(
        name: str = typer.Argument(...),
        namespace: str | None = NamespaceOption,
        json_output: bool = JsonOption,
        db: str | None = DbOption,
    ) -> None:
        """Run the cron now (a manual tick: every check but suspend applies)."""
        from aether.runtime.cron import CronError

        try:
            outcome = _service(db).trigger(name, namespace)
        except CronError as exc:
            _refused(exc)
        if json_output:
            print_json(outcome)
            # The exit status says whether a run started, with or without --json.
            if not outcome["runId"]:
                raise typer.Exit(1)
        elif outcome["runId"]:
            typer.echo(outcome["runId"])
        else:
            fail(f"tick {outcome['scheduledTime']} skipped: {outcome['skipped']}", 1)

    @cron.command("backfill")
    def backfill(
        name: str = typer.Argument(...),
        start: str = typer.Option(..., "--from", help="Start of the range, RFC 3339 (included)."),
        end: str = typer.Option(..., "--to", help="End of the range, RFC 3339 (excluded)."),
        namespace: str | None = NamespaceOption,
        json_output: bool = JsonOption,
        db: str | None = DbOption,
    ) -> None:
        """Start a run for every unprocessed scheduled time in [--from, --to), oldest first.

        Backfill ignores suspend, startingDeadlineSeconds and concurrencyPolicy (SPEC §12.5):
        its runs are created as with Allow."""
        from aether.runtime.cron import CronError

        try:
            outcomes = _service(db).backfill(name, start, end, namespace)
        except CronError as exc:
            _refused(exc)
        if json_output:
            print_json(outcomes)
            return
        for outcome in outcomes:
            typer.echo(f"{outcome['scheduledTime']}  {outcome['runId']}")
        typer.echo(f"{len(outcomes)} run(s) submitted", err=True)
