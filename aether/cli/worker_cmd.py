"""``aether worker``: run executors only, taking tasks from the database's task queue."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

from aether.cli.common import EXIT_OK, EXIT_RUN_NOT_SUCCEEDED, DbOption, db_name, fail
from aether.cli.secrets_option import SecretsOption, command_line_secrets
from aether.cli.stopping import (
    DEFAULT_GRACE,
    DEFAULT_LEASE,
    GRACE_HELP,
    StopRequests,
    grace_seconds,
    lease_seconds,
)
from aether.cli.store_faults import EXIT_STORE_FAULT, describe_store_fault

if TYPE_CHECKING:
    from aether.runtime.queue_broker import Waker

WORKER_LEASE_HELP = (
    "How long this worker stays registered without renewal: if it dies, the engines run its tasks"
    " again after this long (at once on the same machine, where the dead process can be seen)."
)


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        concurrency: int = typer.Option(4, "--concurrency", min=1, help="Tasks run at once."),
        executors: str | None = typer.Option(
            None,
            "--executors",
            help="Comma-separated executor types this worker runs (default: every built-in type).",
        ),
        grace: str = typer.Option(DEFAULT_GRACE, "--grace", help=GRACE_HELP),
        lease: str = typer.Option(DEFAULT_LEASE, "--lease", help=WORKER_LEASE_HELP),
        secrets: str | None = SecretsOption,
        db: str | None = DbOption,
    ) -> None:
        """Run tasks from the database's queue, on this machine; decide nothing.

        Engines (`aether serve`, with --workers 0 to only decide) dispatch the tasks; any
        number of workers on any machine that reaches the database take them, the best
        priority first, each task once. A task whose worker dies is run again as its next
        attempt once the worker's lease expires (at once on the same machine).

        SIGTERM or Ctrl-C stops it gracefully: it takes nothing more, running tasks get
        the --grace period to finish, the rest are terminated and run again elsewhere."""
        from aether.runtime.executors import BUILTIN_TYPES, builtin_executors
        from aether.runtime.worker_process import WorkerProcess
        from aether.store import open_log
        from aether.store.base import StoreError
        from aether.store.postgres_connect import is_postgres_url

        types = _executor_types(executors, BUILTIN_TYPES)
        grace_limit = grace_seconds(grace)
        name = db_name(db)
        target = db or "aether.db"
        if not is_postgres_url(target) and not os.path.exists(target):
            fail(f"no database at {name} (use --db or AETHER_DB)")
        try:
            log = open_log(target)
        except StoreError as exc:
            fail(f"cannot open {name}: {describe_store_fault(exc)}", EXIT_STORE_FAULT)
        queue = getattr(log, "task_queue", None)
        coordination = getattr(log, "coordination", None)
        if queue is None or coordination is None:
            fail(f"{name} keeps no task queue", EXIT_STORE_FAULT)
        process = WorkerProcess(
            log,
            coordination,
            queue,
            builtin_executors(),
            concurrency=concurrency,
            executor_types=types,
            secrets=command_line_secrets(secrets),
            lease_ttl=lease_seconds(lease),
            work_waker=_work_waker(target),
        )
        requests = StopRequests()
        with requests.installed():
            process.start()
            typer.echo(
                f"aether: worker {process.member_id} on {name}: {concurrency} at once, "
                f"executors {', '.join(sorted(types))} (pid {os.getpid()})",
                err=True,
            )
            while not requests.requested.wait(0.2) and not process.fenced:
                pass
            if requests.requested.is_set():
                typer.echo(f"aether: {requests.signal_name}: stopping (again to stop at once)", err=True)
            finished = process.stop(grace_limit, hurry=requests.hurry)
        log.close()
        if not finished and not process.fenced:
            typer.echo(
                "aether: terminated the tasks still running; their attempts are reported lost "
                "and run again as their next attempts",
                err=True,
            )
        if process.fenced:
            fail(
                "this worker was paused past its lease and was removed; its tasks were stopped "
                "and run again elsewhere (start it again)",
                EXIT_RUN_NOT_SUCCEEDED,
            )
        raise typer.Exit(EXIT_OK)


def _executor_types(chosen: str | None, known: tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    if chosen is None:
        return frozenset(known)
    types = frozenset(t.strip() for t in chosen.split(",") if t.strip())
    unknown = sorted(types - set(known))
    if unknown or not types:
        fail(
            f"--executors {chosen!r}: unknown executor type(s) {', '.join(unknown) or '(none given)'}; "
            f"known: {', '.join(sorted(known))}"
        )
    return types


def _work_waker(target: str) -> Waker | None:
    """What wakes an idle worker when work is queued: PostgreSQL notifies (the waker stops
    listening when the worker's broker closes); SQLite is polled."""
    from aether.store.postgres_connect import is_postgres_url

    if not is_postgres_url(target):
        return None
    from aether.runtime.queue_broker import NotifiedWaker
    from aether.store.postgres_notify import Listener
    from aether.store.postgres_task_queue import TASKS_CHANNEL

    listener = Listener(target, [TASKS_CHANNEL])
    return NotifiedWaker(listener.add_callback, TASKS_CHANNEL, on_close=listener.close)
