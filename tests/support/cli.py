"""Invoking the ``aether`` command in-process, on a database, as the CLI tests do."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from aether.cli.main import _register_commands, app

_register_commands()


def aether(db: Path, *args: str, width: int = 80) -> Result:
    """Run ``aether ARGS --db DB`` in this process (``width``: the terminal's columns)."""
    return CliRunner().invoke(app, [*args, "--db", str(db)], terminal_width=width)
