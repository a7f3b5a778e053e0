"""``aether ui`` (the live web UI) and ``aether report`` (a run as one HTML file)."""

from __future__ import annotations

from pathlib import Path

import typer

from aether.cli.common import DbOption, fail, open_queries

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def register(app: typer.Typer) -> None:
    @app.command("ui")
    def ui(
        db: str | None = DbOption,
        host: str = typer.Option(
            "127.0.0.1", "--host", help="Address to listen on (another than this machine's needs --token)."
        ),
        port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port to listen on."),
        token: str | None = typer.Option(
            None,
            "--token",
            envvar="AETHER_UI_TOKEN",
            help="Every request must carry it (Authorization: Bearer T or ?token=T).",
        ),
        allow_actions: bool = typer.Option(
            False, "--allow-actions", help="Let the UI cancel, resume and retry runs (otherwise it only reads)."
        ),
    ) -> None:
        """Serve a web UI of the runs: the list, each run's graph, timeline, events and time travel, and the crons."""
        if host not in LOCAL_HOSTS and not token:
            fail(f"--host {host} lets other machines in: give --token T so that every request must carry it")
        try:
            import uvicorn

            from aether.ui.app import create_app
        except ImportError as exc:
            fail(f"aether ui needs its server ({exc.name} is missing): pip install 'aether[ui]'")

        application = create_app(open_queries(db), token=token or None, allow_actions=allow_actions)
        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"aether ui on http://{shown}:{port}/" + (" (token required)" if token else ""), err=True)
        uvicorn.run(application, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)

    @app.command("report")
    def report(
        run_id: str = typer.Argument(..., metavar="RUN", help="Run id."),
        output: Path = typer.Option(..., "--output", "-o", help="The HTML file to write."),
        db: str | None = DbOption,
    ) -> None:
        """Write one self-contained HTML file showing the run (graph, timeline, events, time slider)."""
        from aether.runtime.engine import HistoryDecodeError, RunNotFound
        from aether.ui.report import build_report

        try:
            html = build_report(open_queries(db), run_id)
        except (RunNotFound, HistoryDecodeError) as exc:
            fail(str(exc))
        try:
            output.write_text(html, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror}")
        typer.echo(f"wrote {output} ({len(html.encode()) // 1024} KiB)", err=True)
