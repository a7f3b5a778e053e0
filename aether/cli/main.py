"""The ``aether`` command. Thin: each command module parses its arguments and calls
the library; this module only assembles them."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import typer

from aether import __version__

app = typer.Typer(
    name="aether",
    help="Aether: an event-sourced workflow engine for aether/v1 documents.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

# Each command module of aether.cli exposes ``register(app)``; here with the commands it
# registers, in the order ``aether --help`` lists them.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "validate_cmd": ("validate",),
    "eval_cmd": ("eval",),
    "run_cmd": ("run", "submit", "serve"),
    "runs_cmd": ("get", "delete", "prune", "list", "resume", "cancel"),
    "wait_cmd": ("wait",),
    "cron_cmd": ("cron",),
    "template_cmd": ("template",),
    "replay_cmd": ("replay", "export", "import", "retry", "reset"),
    "history_cmd": ("history", "projections"),
    "worker_cmd": ("worker",),
    "ui_cmd": ("ui", "report"),
    "logs_cmd": ("logs",),
}


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


def _register_commands(command: str | None = None) -> None:
    """Register the commands on ``app``: those of the module that defines ``command`` when
    it is one (parsing a command and its help need no other), else every command (for
    ``aether --help``, shell completion, or the message about an unknown command)."""
    modules = [module for module, names in COMMAND_MODULES.items() if command in names] or list(COMMAND_MODULES)
    for module in modules:
        importlib.import_module(f"aether.cli.{module}").register(app)


def _command_name(args: Sequence[str]) -> str | None:
    """The command ``args`` begin with, if they begin with one. After an option (``aether
    --help get``) the whole command line is parsed as always, with every command."""
    return args[0] if args and not args[0].startswith("-") else None


def run() -> None:
    args = sys.argv[1:]
    # Given first, --version is answered by its eager option before any command is
    # looked at (an error in the options after it is reported the same without them).
    if args[:1] != ["--version"]:
        _register_commands(_command_name(args))
    # Imported here like the commands: `aether --version` stays fast.
    from aether.cli.store_faults import EXIT_STORE_FAULT, describe_store_fault, is_store_fault

    try:
        app()
    except Exception as exc:
        if not is_store_fault(exc):
            raise
        typer.echo(f"aether: {describe_store_fault(exc)}", err=True)
        sys.exit(EXIT_STORE_FAULT)
