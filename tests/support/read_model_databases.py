"""The databases the read models are tested on: an SQLite file and a PostgreSQL database.

``read_model_target`` runs a test once per kind (ids ``[sqlite-views]`` and
``[postgres-views]``) and gives what ``Projector``, ``ViewHistoryReader`` and
``open_database`` take: a path, or the URL of a fresh PostgreSQL database
(``postgres_url``). ``table_rows`` reads every read-model table back in key order, so the
tables of two databases, or of two projections, compare as plain values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from aether.projections.read_model_base import TableSpec
from aether.projections.read_models import default_read_models
from aether.store.sql_database import SqlDatabase, open_database

Tables = dict[str, list[tuple[Any, ...]]]
ReadModelTarget = str | Path

READ_MODEL_DATABASES = ("sqlite-views", "postgres-views")


@pytest.fixture(params=READ_MODEL_DATABASES)
def read_model_target(request: pytest.FixtureRequest, tmp_path: Path) -> ReadModelTarget:
    if request.param == "sqlite-views":
        return tmp_path / "views.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def read_model_db(read_model_target: ReadModelTarget) -> Iterator[SqlDatabase]:
    """An open database of each kind, closed after the test."""
    db, _ = open_database(read_model_target)
    yield db
    db.close()


def default_tables() -> list[TableSpec]:
    return [spec for model in default_read_models() for spec in model.tables]


def table_rows(target: ReadModelTarget | SqlDatabase, tables: Sequence[TableSpec] | None = None) -> Tables:
    """Every row of ``tables`` (the default read models'), each table in primary key order."""
    db, opened = open_database(target)
    try:
        return {
            spec.name: [
                tuple(row) for row in db.fetchall(f"SELECT * FROM {spec.name} ORDER BY {', '.join(spec.primary_key)}")
            ]
            for spec in (tables if tables is not None else default_tables())
        }
    finally:
        if opened:
            db.close()
