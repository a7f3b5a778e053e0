"""``aether run``, ``aether submit`` and ``aether serve``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from aether.cli.common import (
    EXIT_OK,
    EXIT_RUN_NOT_SUCCEEDED,
    DbOption,
    db_name,
    fail,
    invalid,
    is_terminal,
    open_engine,
    print_json,
    report_problems,
    stored_templates,
)
from aether.cli.secrets_option import SecretsOption, command_line_secrets
from aether.cli.stopping import (
    DEFAULT_GRACE,
    DEFAULT_LEASE,
    GRACE_HELP,
    LEASE_HELP,
    StopRequests,
    drain,
    grace_seconds,
    lease_seconds,
)
from aether.cli.store_faults import EXIT_STORE_FAULT
from aether.cli.wait_cmd import WaitTimeoutOption, wait_for_end, wait_timeout

# The commands import the engine, the executors and the model when they run: registering
# them (for ``--help`` or another command) must stay cheap.
if TYPE_CHECKING:
    from aether.model.json_value import JSON
    from aether.runtime.submission import PreparedRun

# How often ``aether run`` redraws the run's tasks; the end shows at once.
SHOW_EVERY_SECONDS = 0.2

ParamOption = typer.Option(None, "-p", "--param", help="Workflow argument NAME=VALUE (VALUE is JSON, or text).")


def _arguments(params: list[str] | None) -> dict[str, JSON]:
    from aether.runtime.submission import parse_argument

    arguments: dict[str, JSON] = {}
    for text in params or []:
        try:
            name, value = parse_argument(text)
        except ValueError as exc:
            fail(str(exc))
        arguments[name] = value
    return arguments


def _prepare(file: Path, params: list[str] | None, strict: bool, db: str | None) -> PreparedRun:
    """Validate before anything is written: bad input writes nothing. Template references
    resolve from the WorkflowTemplates stored in ``db`` (SPEC §13)."""
    from aether.model.limits import DEFAULT_LIMITS
    from aether.model.problems import Problem, ValidationError
    from aether.runtime.executors import builtin_executors, config_checks
    from aether.runtime.submission import load_workflow

    arguments = _arguments(params)
    checks = config_checks(builtin_executors())
    try:
        with stored_templates(db) as lookup:
            prepared = load_workflow(
                file,
                limits=DEFAULT_LIMITS,
                strict=strict,
                executor_checks=checks,
                arguments=arguments,
                template_lookup=lookup,
            )
    except ValidationError as exc:
        invalid(str(file), exc)
    # The command line runs only the built-in executors, so a task no executor can run is
    # bad input here, not something to discover when the task fails.
    unknown = [p for p in prepared.warnings if p.code == "W-EXECUTOR-UNKNOWN"]
    if unknown:
        escalated = tuple(Problem(p.code, "error", p.path, p.message, p.line, p.column) for p in unknown)
        report_problems(str(file), escalated)
        fail(f"{file} uses executor types Aether does not have: {', '.join(p.message for p in unknown)}")
    report_problems(str(file), [p for p in prepared.warnings])
    return prepared


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        file: Path = typer.Argument(..., help="Workflow document (JSON or YAML)."),
        param: list[str] | None = ParamOption,
        json_output: bool = typer.Option(False, "--json", help="Print the run view as JSON on stdout."),
        timeout: str | None = typer.Option(None, "--timeout", help="Give up waiting after this duration (e.g. 10m)."),
        workers: int = typer.Option(4, "--workers", min=1, help="Worker threads."),
        strict: bool = typer.Option(False, "--strict", help="Treat validation warnings as errors."),
        grace: str = typer.Option(DEFAULT_GRACE, "--grace", help=GRACE_HELP + " Also when --timeout is over."),
        lease: str = typer.Option(DEFAULT_LEASE, "--lease", help=LEASE_HELP),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not show the tasks' output as it arrives."),
        secrets: str | None = SecretsOption,
        db: str | None = DbOption,
    ) -> None:
        """Submit a workflow and run it to completion in this process.

        Exit 0 when the run Succeeded, 1 for any other end, 2 for invalid input."""
        from aether.cli.progress import PlainProgress, RichProgress
        from aether.cli.task_output import TaskOutput
        from aether.model.durations import parse_duration_seconds
        from aether.projections.views import RunViewer
        from aether.reducers.state import TERMINAL_PHASES
        from aether.runtime.queries import QueryService

        limit = None
        if timeout is not None:
            limit = parse_duration_seconds(timeout)
            if limit is None:
                fail(f'--timeout "{timeout}" is not a duration (e.g. 30s, 10m, 1h)')
        grace_limit = grace_seconds(grace)
        prepared = _prepare(file, param, strict, db)
        provider = command_line_secrets(secrets)
        # This command runs its own run; other unfinished runs in the database wait for a serve.
        engine = open_engine(db, workers=workers, drives="submitted", lease_ttl=lease_seconds(lease), secrets=provider)
        requests = StopRequests()
        gave_up = ""
        with requests.installed(), engine:
            result = engine.submit(prepared, source_name=str(file))
            display = RichProgress() if (is_terminal() and not json_output) else PlainProgress(quiet=json_output)
            deadline = None if limit is None else time.monotonic() + limit
            viewer = RunViewer()
            view = viewer.view(engine.get_state(result.run_id))
            output = TaskOutput(
                QueryService(engine), result.run_id, show=not (quiet or json_output), colour=is_terminal()
            )
            display.start(view)
            shown_at = time.monotonic()
            while True:
                # The run's phase is looked at every round, the whole view only as often as
                # a person can follow it, and at the end.
                state = engine.get_state(result.run_id)
                ended = state.phase in TERMINAL_PHASES
                if ended or time.monotonic() - shown_at >= SHOW_EVERY_SECONDS:
                    view = viewer.view(state)
                    shown_at = time.monotonic()
                    display.update(view)
                output.poll()
                if ended:
                    output.finish()
                    break
                if engine.fenced:
                    gave_up = "lost its lease to another engine (this process was paused past it)"
                elif engine.failure is not None:
                    gave_up = f"stopped: {engine.failure}"
                elif requests.requested.is_set():
                    gave_up = "was stopped"
                elif deadline is not None and time.monotonic() > deadline:
                    gave_up = f"did not finish within {timeout}"
                if gave_up:
                    break
                requests.requested.wait(0.05)
            display.stop(view)
            if view["phase"] in TERMINAL_PHASES and view["phase"] != "Succeeded" and not json_output:
                output.failure_tails(view)
            if gave_up:
                typer.echo(f"aether: run {result.run_id} {gave_up}; it continues with `aether serve`", err=True)
                drain(engine, grace_limit, requests)
        if gave_up:
            raise typer.Exit(EXIT_STORE_FAULT if engine.failure is not None else EXIT_RUN_NOT_SUCCEEDED)
        if json_output:
            print_json(view)
        raise typer.Exit(EXIT_OK if view["phase"] == "Succeeded" else EXIT_RUN_NOT_SUCCEEDED)

    @app.command("submit")
    def submit(
        file: Path = typer.Argument(..., help="Workflow document (JSON or YAML)."),
        param: list[str] | None = ParamOption,
        strict: bool = typer.Option(False, "--strict", help="Treat validation warnings as errors."),
        key: str | None = typer.Option(None, "--idempotency-key", help="Return the existing run for a used key."),
        wait: bool = typer.Option(False, "--wait", help="Then wait for the run's end, as `aether wait` does."),
        wait_limit: str | None = WaitTimeoutOption,
        json_output: bool = typer.Option(False, "--json", help="With --wait: print the run view, not the id."),
        db: str | None = DbOption,
    ) -> None:
        """Record a new run and print its id; `aether serve` executes it.

        With --wait, then wait for the run's end and exit as `aether wait` does."""
        from aether.runtime.queries import QueryService

        if not wait and (wait_limit is not None or json_output):
            fail("--timeout and --json of submit go with --wait")
        limit = wait_timeout(wait_limit)
        prepared = _prepare(file, param, strict, db)
        engine = open_engine(db, workers=0)
        result = engine.submit(prepared, source_name=str(file), idempotency_key=key)
        if not (wait and json_output):
            typer.echo(result.run_id)
        if wait:
            wait_for_end(QueryService(engine), result.run_id, limit, json_output=json_output)

    @app.command("serve")
    def serve(
        workers: int = typer.Option(
            4, "--workers", min=0, help="Worker threads; 0: only decide, and `aether worker` processes run the tasks."
        ),
        until_idle: bool = typer.Option(
            False, "--until-idle", help="Exit once nothing is left to do but wait for people (suspended tasks)."
        ),
        grace: str = typer.Option(DEFAULT_GRACE, "--grace", help=GRACE_HELP),
        lease: str = typer.Option(DEFAULT_LEASE, "--lease", help=LEASE_HELP),
        secrets: str | None = SecretsOption,
        db: str | None = DbOption,
    ) -> None:
        """Run the engine, workers, timers and the cron ticker for the active runs in the database.

        Several serves may share a database: each leases a share of the runs, and takes
        over the runs of one that dies once its lease has expired.

        SIGTERM or Ctrl-C stops it gracefully: no new task starts, running tasks get the
        --grace period to finish, then they are terminated and run again at the next start."""
        from aether.runtime.cron import attach_cron_ticker

        grace_limit = grace_seconds(grace)
        engine = open_engine(
            db,
            workers=workers,
            drives="all",
            queue=workers == 0,
            lease_ttl=lease_seconds(lease),
            secrets=command_line_secrets(secrets),
        )
        doing = f"with {workers} workers" if workers else "deciding only: `aether worker` processes run the tasks"
        typer.echo(f"aether: serving {db_name(db)} {doing} (pid {os.getpid()})", err=True)
        requests = StopRequests()
        with requests.installed(), engine:
            ticker = attach_cron_ticker(engine)
            try:
                idle_since = None
                while not requests.requested.wait(0.2):
                    if engine.fenced or engine.failure is not None:
                        break
                    if not until_idle:
                        continue
                    if not engine.idle():
                        idle_since = None
                    elif idle_since is None:
                        idle_since = time.monotonic()
                    elif time.monotonic() - idle_since > 0.5:
                        break
            finally:
                ticker.stop()
                drain(engine, grace_limit, requests)
        if engine.failure is not None:
            fail(f"stopped: {engine.failure}", code=EXIT_STORE_FAULT)
        if engine.fenced:
            fail(
                "this serve was paused past its lease and other engines took its runs over; "
                "it stopped so as not to act on them (start it again)",
                code=EXIT_RUN_NOT_SUCCEEDED,
            )
        raise typer.Exit(EXIT_OK)
