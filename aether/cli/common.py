"""What every run command shares: the database option, opening the engine or its read side,
and output."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from aether.cli.store_faults import EXIT_STORE_FAULT, describe_store_fault

# The engine, the store and the model are imported by the functions that use them, so
# that a command that needs none of them (``--help``, ``--version``) starts fast.
if TYPE_CHECKING:
    from aether.model.json_value import JSON
    from aether.model.problems import Problem, ValidationError
    from aether.model.refs import TemplateLookup
    from aether.runtime.engine import Engine
    from aether.runtime.queries import QueryService
    from aether.store.base import EventLog

DEFAULT_DB = "aether.db"

EXIT_OK = 0
EXIT_RUN_NOT_SUCCEEDED = 1
EXIT_INVALID = 2

DbOption = typer.Option(
    None,
    "--db",
    envvar="AETHER_DB",
    help="The database: a SQLite file (default ./aether.db) or a PostgreSQL URL "
    "(postgresql://user@host:port/dbname); or set AETHER_DB.",
)


def db_path(db: str | None) -> Path:
    return Path(db or DEFAULT_DB)


def db_name(db: str | None) -> str:
    """The database as messages name it: a file path, or a URL without its password."""
    from aether.store.postgres_connect import is_postgres_url, redacted

    if is_postgres_url(db):
        assert db is not None
        return redacted(db)
    return str(db_path(db))


def open_engine(
    db: str | None, *, workers: int = 4, must_exist: bool = False, queue: bool = False, **kwargs: Any
) -> Engine:
    """The engine of ``db``. ``queue``: hand tasks to workers through the database's task
    queue, so that ``aether worker`` processes take part (always so on PostgreSQL, where
    engines and workers may be on other machines)."""
    from aether.runtime.setup import sqlite_engine
    from aether.store.base import StoreError
    from aether.store.postgres_connect import is_postgres_url
    from aether.store.sqlite_read_only import is_writable

    # A command without workers only records requests; the runs' owners act on them.
    kwargs.setdefault("drives", "all" if workers > 0 else "none")
    if is_postgres_url(db):
        assert db is not None
        # An engine that drives runs lives long enough to be worth a listening connection.
        listen = kwargs["drives"] != "none"
        return _with_templates(_open_postgres_engine(db, workers=workers, listen=listen, **kwargs))
    path = db_path(db)
    if must_exist:
        check_existing(path)
        # A database this process may not write is still read: commands that only read
        # work, and a write gives a clear error instead of "unable to open database file".
        if workers == 0 and not is_writable(path):
            kwargs["read_only"] = True
    try:
        engine = sqlite_engine(path, workers=workers, queue=queue, **kwargs)
    except StoreError as exc:
        fail(f"cannot open {path}: {describe_store_fault(exc)}", EXIT_STORE_FAULT)
    return _with_templates(engine)


def _open_postgres_engine(url: str, **kwargs: Any) -> Engine:
    from aether.runtime.setup import postgres_engine
    from aether.store.base import StoreError
    from aether.store.postgres_connect import redacted

    try:
        return postgres_engine(url, **kwargs)
    except StoreError as exc:
        fail(f"cannot open {redacted(url)}: {describe_store_fault(exc)}", EXIT_STORE_FAULT)


def _with_templates(engine: Engine) -> Engine:
    from aether.runtime.templates import store_lookup

    if engine.template_lookup is None:
        # Submissions and cron ticks resolve template references from this database (SPEC §13).
        engine.template_lookup = store_lookup(engine.log)
    return engine


@contextmanager
def stored_templates(db: str | None) -> Iterator[TemplateLookup]:
    """The WorkflowTemplates of ``db``, to validate a document before anything is written.
    A database that does not exist holds none, and is not created."""
    from aether.model.refs import no_templates
    from aether.runtime.templates import store_lookup
    from aether.store import open_log
    from aether.store.base import StoreError
    from aether.store.postgres_connect import is_postgres_url, redacted
    from aether.store.sqlite import SqliteEventLog

    if is_postgres_url(db):
        assert db is not None
        try:
            event_log: EventLog = open_log(db)
        except StoreError as exc:
            fail(f"cannot open {redacted(db)}: {describe_store_fault(exc)}", EXIT_STORE_FAULT)
    else:
        path = db_path(db)
        if not path.exists():
            yield no_templates
            return
        try:
            event_log = SqliteEventLog(path)
        except StoreError as exc:
            fail(f"cannot open {path}: {describe_store_fault(exc)}", EXIT_STORE_FAULT)
    try:
        yield store_lookup(event_log)
    finally:
        event_log.close()


def check_existing(path: Path) -> None:
    """Fail unless ``path`` holds a database: a command that reads or adds to existing runs
    must not take a missing or empty (0-byte) file for a new, empty database."""
    if not path.exists():
        fail(f"no database at {path} (use --db or AETHER_DB)")
    if path.is_file() and path.stat().st_size == 0:
        fail(
            f"{path} is an empty file (0 bytes), not an Aether database: remove it or pass another --db",
            EXIT_STORE_FAULT,
        )


def open_queries(db: str | None) -> QueryService:
    """The read side of the database ``db``, which must exist: for commands that only read."""
    from aether.runtime.queries import QueryService

    return QueryService(open_engine(db, workers=0, must_exist=True))


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    typer.echo(f"aether: {message}", err=True)
    raise typer.Exit(code)


def print_json(value: JSON) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def problem_line(source: str, problem: Problem) -> str:
    """``FILE:LINE:COLUMN:JSONPATH: CODE message`` (without ``LINE:COLUMN:`` when the
    source position is unknown): the position ``--json`` gives, in the form editors jump to."""
    position = f"{problem.line}:{problem.column}:" if problem.line is not None else ""
    return f"{source}:{position}{problem.path}: {problem.code} {problem.message}"


def report_problems(source: str, problems: tuple[Problem, ...] | list[Problem]) -> None:
    for problem in problems:
        typer.echo(problem_line(source, problem), err=True)


def invalid(source: str, error: ValidationError) -> NoReturn:
    report_problems(source, [p for p in error.problems])
    errors = len(error.errors)
    fail(f"{source} is not valid: {errors} problem(s)")


def is_terminal() -> bool:
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"
