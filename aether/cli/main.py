"""The ``aether`` command. Thin: each command module parses its arguments and calls
the library; this module only assembles them."""

from __future__ import annotations

import sys

import typer

from aether import __version__

app = typer.Typer(
    name="aether",
    help="Aether: an event-sourced workflow engine for aether/v1 documents.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aether {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Aether: an event-sourced workflow engine for aether/v1 documents."""


def _register_commands() -> None:
    # Each command module exposes ``register(app)``; keep one line per module.
    from aether.cli import (
        cron_cmd,
        eval_cmd,
        history_cmd,
        logs_cmd,
        replay_cmd,
        run_cmd,
        runs_cmd,
        template_cmd,
        ui_cmd,
        validate_cmd,
        wait_cmd,
        worker_cmd,
    )

    validate_cmd.register(app)
    eval_cmd.register(app)
    run_cmd.register(app)
    runs_cmd.register(app)
    wait_cmd.register(app)
    cron_cmd.register(app)
    template_cmd.register(app)
    replay_cmd.register(app)
    history_cmd.register(app)
    worker_cmd.register(app)
    ui_cmd.register(app)
    logs_cmd.register(app)


def run() -> None:
    _register_commands()
    # Imported here like the commands: `aether --version` stays fast.
    from aether.cli.store_faults import EXIT_STORE_FAULT, describe_store_fault, is_store_fault

    try:
        app()
    except Exception as exc:
        if not is_store_fault(exc):
            raise
        typer.echo(f"aether: {describe_store_fault(exc)}", err=True)
        sys.exit(EXIT_STORE_FAULT)
