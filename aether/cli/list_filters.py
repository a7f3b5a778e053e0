"""The options of ``aether list`` that choose runs, checked and turned into a ``RunFilter``.

Bad values are bad input: a message naming the option, exit 2, before the database is read.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer

from aether.cli.common import fail

if TYPE_CHECKING:
    from aether.store.read_queries import RunFilter

# The phases of ``aether.events.phases.Phase`` (SPEC §6.4), named here because the help
# of --phase lists them whenever the commands are registered, and importing the event
# catalog for that would slow down every command; tests/cli/test_cli_imports.py checks
# that the two lists agree.
PHASES: tuple[str, ...] = (
    "Created",
    "Ready",
    "Running",
    "Suspended",
    "Succeeded",
    "Failed",
    "Error",
    "Timeout",
    "Cancelled",
    "Skipped",
)

PhaseOption = typer.Option(
    None, "--phase", help=f"Only runs in this phase (repeatable): {', '.join(PHASES)}; any letter case."
)
WorkflowOption = typer.Option(None, "--workflow", help="Only runs of this workflow (metadata.name, or namespace/name).")
SinceOption = typer.Option(
    None, "--since", help="Only runs created since this RFC 3339 time, or this long ago (e.g. 90m, 1h, 24h)."
)
LimitOption = typer.Option(None, "--limit", min=1, help="Only the N newest runs, newest first.")


def run_filter(
    phases: list[str] | None, workflow: str | None, since: str | None, limit: int | None, *, now_ms: int | None = None
) -> RunFilter:
    """The filter the options ask for; ``now_ms`` (default: the wall clock) anchors ``--since DURATION``."""
    from aether.store.read_queries import RunFilter

    namespace, name = _workflow(workflow)
    now_ms = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    return RunFilter(
        phases=tuple(_phase(text) for text in phases or ()),
        workflow=name,
        namespace=namespace,
        created_since=None if since is None else _since(since, now_ms),
        limit=limit,
    )


def _phase(text: str) -> str:
    for phase in PHASES:
        if phase.lower() == text.strip().lower():
            return phase
    fail(f'--phase "{text}" is not a phase: use one of {", ".join(PHASES)}')


def _workflow(text: str | None) -> tuple[str | None, str | None]:
    if text is None:
        return None, None
    namespace, slash, name = text.rpartition("/")
    if not name or (slash and not namespace):
        fail(f'--workflow "{text}" is not a workflow name (NAME or NAMESPACE/NAME)')
    return (namespace if slash else None), name


def _since(text: str, now_ms: int) -> str:
    from aether.events.times import format_ms, parse_ms
    from aether.model.durations import parse_duration_nanos

    nanos = parse_duration_nanos(text.strip())
    if nanos is not None and nanos >= 0:
        return format_ms(now_ms - nanos // 1_000_000)
    try:
        return format_ms(parse_ms(text.strip()))
    except ValueError:
        fail(f'--since "{text}" is neither an RFC 3339 time (2026-03-01T10:00:00Z) nor a duration (90m, 1h, 24h)')
