"""Running scenarios: each prepared once, then the rounds interleaved (round 1 of every
scenario, then round 2, ...), so that a change in the machine's load touches all of them
alike. Every measured part runs in a fresh process, and so does the limit measured on the
rows each part recorded."""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from attrs import define, field

from bench.databases import Databases
from bench.measure import ChildFailed, run_child
from bench.scenario import Row, Source, Spec, needs_preparing
from bench.scenarios import scenario_module

# Which figure of the limit (bench/raw_log.py) a row of each kind is compared with.
LIMIT_FIGURES = {"append": "append_events_per_s", "read": "read_decode_events_per_s"}


@define
class Measured:
    """One row of one round, with the limit measured on its rows in the same round."""

    spec: Spec
    row: Row
    limit_events_per_s: float | None


@define
class Outcome:
    measured: list[Measured] = field(factory=list)
    failures: dict[str, str] = field(factory=dict)  # scenario label -> why it stopped


def run_scenarios(
    specs: list[Spec], rounds: int, workdir: Path, progress: Callable[[str], None], *, keep: bool = False
) -> Outcome:
    """Measure ``specs``, ``rounds`` times each. ``keep``: leave every database made in place
    (the SQLite files under ``workdir``, the PostgreSQL databases on their server)."""
    outcome = Outcome()
    token = secrets.token_hex(3)
    prepared = {spec: _databases(spec, workdir, token, "prep") for spec in specs}
    try:
        for spec in specs:
            progress(f"preparing {spec.label}")
            _attempt(outcome, spec, partial(_prepare, spec, workdir, prepared[spec]))
        for round_number in range(1, rounds + 1):
            for spec in specs:
                if spec.label in outcome.failures:
                    continue
                progress(f"round {round_number}/{rounds}: {spec.label}")
                databases = _databases(spec, workdir, token, f"r{round_number}")
                try:
                    _attempt(outcome, spec, partial(_round, outcome, spec, workdir, databases))
                finally:
                    if not keep:
                        databases.drop_all()
                        shutil.rmtree(databases.directory, ignore_errors=True)
    finally:
        if not keep:
            for databases in prepared.values():
                databases.drop_all()
    return outcome


def _attempt(outcome: Outcome, spec: Spec, step: Callable[[], None]) -> None:
    """Run ``step``; if it fails, the scenario is marked failed and measured no more."""
    try:
        step()
    except (ChildFailed, ImportError) as exc:
        outcome.failures[spec.label] = str(exc)


def _prepare(spec: Spec, workdir: Path, databases: Databases) -> None:
    if needs_preparing(scenario_module(spec.scenario)):
        run_child("prepare", _arguments(spec, workdir, databases), _scenario_dir(spec, workdir))


def _round(outcome: Outcome, spec: Spec, workdir: Path, databases: Databases) -> None:
    # Parts that read the same run (replay's) share the limit measured on its rows.
    limits: dict[Source, dict[str, Any]] = {}
    for part in scenario_module(spec.scenario).parts(spec):
        arguments = {**_arguments(spec, workdir, databases), "part": part}
        rows = [Row.from_json(row) for row in run_child("measure", arguments, _scenario_dir(spec, workdir))]
        for row in rows:
            limit: float | None = None
            if row.limit is not None and row.source is not None:
                if row.source not in limits:
                    limits[row.source] = _measure_limit(row.source, Path(databases.directory))
                limit = limits[row.source][LIMIT_FIGURES[row.limit]]
            outcome.measured.append(Measured(spec, row, limit))


def _measure_limit(source: Source, directory: Path) -> dict[str, Any]:
    arguments = {"db": source.db, "stream": source.stream, "workdir": str(directory)}
    figures: dict[str, Any] = run_child("limit", arguments, directory)
    return figures


def _arguments(spec: Spec, workdir: Path, databases: Databases) -> dict[str, Any]:
    return {
        "spec": spec.to_json(),
        "workdir": str(_scenario_dir(spec, workdir)),
        "databases": {"directory": databases.directory, "server": databases.server, "prefix": databases.prefix},
    }


def _scenario_dir(spec: Spec, workdir: Path) -> Path:
    directory = workdir / _slug(spec.label)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _databases(spec: Spec, workdir: Path, token: str, stage: str) -> Databases:
    slug = _slug(spec.label)
    directory = _scenario_dir(spec, workdir) / stage
    return Databases(str(directory), spec.db, f"aether_bench_{token}_{slug.replace('-', '_')}_{stage}")


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
