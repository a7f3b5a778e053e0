"""``aether wait``: follow a run another process drives (``aether serve``, ``aether worker``s)
until it ends, and print its end as ``aether run`` does. ``aether submit --wait`` ends the
same way.

It only reads: it polls the run's stream through the query service, one version check
while nothing moves, backing off to a poll every half second, and folds only the events
appended since it last looked.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, NoReturn

import typer

from aether.cli.common import EXIT_OK, EXIT_RUN_NOT_SUCCEEDED, DbOption, fail, is_terminal, open_queries, print_json

if TYPE_CHECKING:
    from aether.cli.progress import PlainProgress, RichProgress
    from aether.runtime.queries import QueryService

# The run had not ended when --timeout was over (as timeout(1) exits); the run goes on.
EXIT_WAIT_TIMEOUT = 124
# Interrupted by Ctrl-C (128 + SIGINT, as shells report it); the run goes on.
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = (
    f"Exit {EXIT_OK} Succeeded, {EXIT_RUN_NOT_SUCCEEDED} any other end, 2 invalid input (an unknown run), "
    f"{EXIT_WAIT_TIMEOUT} when --timeout is over first (the run goes on)."
)

_FIRST_PAUSE = 0.05  # seconds between polls right after the run moved
_LONGEST_PAUSE = 0.5  # ... growing to this while nothing moves

WaitTimeoutOption = typer.Option(
    None, "--timeout", help=f"Stop waiting after this duration (e.g. 10m): exit {EXIT_WAIT_TIMEOUT}."
)


def wait_timeout(text: str | None) -> float | None:
    """Seconds of ``--timeout``; None: wait as long as the run takes."""
    if text is None:
        return None
    from aether.model.durations import parse_duration_seconds

    seconds = parse_duration_seconds(text)
    if seconds is None:
        fail(f'--timeout "{text}" is not a duration (e.g. 30s, 10m, 1h)')
    return seconds


def wait_for_end(queries: QueryService, run_id: str, limit: float | None, *, json_output: bool) -> NoReturn:
    """Show the run until it ends, print its end and exit with the status of its phase;
    at ``limit`` seconds, exit :data:`EXIT_WAIT_TIMEOUT` instead."""
    from aether.cli.progress import PlainProgress, RichProgress
    from aether.model.durations import format_go_duration
    from aether.projections.views import RunViewer
    from aether.runtime.engine import RunNotFound

    try:
        state, version = queries.latest_state(run_id)
    except RunNotFound as exc:
        fail(str(exc))
    display = RichProgress() if (is_terminal() and not json_output) else PlainProgress(quiet=json_output)
    viewer = RunViewer()
    view = viewer.view(state)
    display.start(view)
    deadline = None if limit is None else time.monotonic() + limit
    pause = _FIRST_PAUSE
    try:
        while not state.terminal:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                _stop_showing(display)
                waited = format_go_duration(limit or 0)
                fail(f"run {run_id} did not end within {waited} (it is {state.phase}; it goes on)", EXIT_WAIT_TIMEOUT)
            time.sleep(pause if remaining is None else min(pause, remaining))
            state, moved_to = queries.latest_state(run_id)
            if moved_to == version:
                pause = min(pause * 2, _LONGEST_PAUSE)
                continue
            version, pause = moved_to, _FIRST_PAUSE
            view = viewer.view(state)
            display.update(view)
    except KeyboardInterrupt:
        _stop_showing(display)
        fail(f"stopped waiting for run {run_id}; it goes on", EXIT_INTERRUPTED)
    display.stop(view)
    if json_output:
        print_json(view)
    raise typer.Exit(EXIT_OK if view["phase"] == "Succeeded" else EXIT_RUN_NOT_SUCCEEDED)


def _stop_showing(display: RichProgress | PlainProgress) -> None:
    """End a live table without the line that says the run finished: it has not."""
    from aether.cli.progress import RichProgress

    if isinstance(display, RichProgress) and display.live is not None:
        display.live.stop()
        display.live = None


def register(app: typer.Typer) -> None:
    @app.command(
        "wait",
        help="Wait for a run that another process drives (`aether serve`, `aether worker`s) to end, and print "
        f"its end as `aether run` does.\n\n{EXIT_CODES_HELP}",
    )
    def wait(
        run_id: str = typer.Argument(..., metavar="RUN", help="Run id."),
        timeout: str | None = WaitTimeoutOption,
        json_output: bool = typer.Option(False, "--json", help="Print the run view as JSON on stdout at the end."),
        db: str | None = DbOption,
    ) -> None:
        limit = wait_timeout(timeout)
        wait_for_end(open_queries(db), run_id, limit, json_output=json_output)
