"""Fresh databases for measured runs: SQLite files in the invocation's directory, or
PostgreSQL databases created on the server ``--db`` names and dropped afterwards (the
role needs CREATEDB)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from attrs import define


@define(frozen=True)
class Databases:
    """Where one round (or the untimed preparation) makes its databases."""

    directory: str
    server: str | None = None  # a PostgreSQL URL, or None for SQLite files
    prefix: str = "aether_bench"

    def new(self, name: str) -> str:
        """A new, empty database named after ``name``: its path or URL."""
        if self.server is None:
            path = Path(self.directory) / f"{name}.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
            return str(path)
        import psycopg

        database = f"{self.prefix}_{re.sub(r'[^a-z0-9]+', '_', name.lower())}"
        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{database}"')
        return with_database(self.server, database)

    def drop_all(self) -> None:
        """Drop the PostgreSQL databases ``new`` made (the SQLite files go with the directory)."""
        if self.server is None:
            return
        import psycopg

        with psycopg.connect(self.server, autocommit=True) as admin:
            names = admin.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (self.prefix + "_",)
            ).fetchall()
            for (database,) in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def with_database(url: str, database: str) -> str:
    """``url`` pointing at ``database`` on the same server, with the same options."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))
