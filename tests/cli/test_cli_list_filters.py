"""``aether list --phase/--workflow/--since/--limit``: the runs table filtered in the
store's SQL, on SQLite and on PostgreSQL alike; bad values are refused naming the option.
SPEC §6.1 (runs), §6.4 (phases)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.documents import dag, echo_task, shell_task, workflow
from typer.testing import CliRunner, Result

from aether.cli.main import _register_commands, app
from aether.runtime.engine import Engine
from aether.runtime.setup import postgres_engine, sqlite_engine

pytestmark = pytest.mark.spec("6.1", "6.4")

_register_commands()


def aether(db: str, *args: str) -> Result:
    return CliRunner().invoke(app, [*args, "--db", db], env={"COLUMNS": "120"})


def listed(db: str, *options: str) -> list[dict[str, str]]:
    result = aether(db, "list", "--json", *options)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, str]] = json.loads(result.stdout)
    return rows


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "aether.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


def started_engine(db: str) -> Engine:
    # Not `aether run`: on PostgreSQL its engine listens for notifications on a thread of
    # its own, which in this process would outlive the command.
    if db.startswith("postgresql://"):
        return postgres_engine(db, workers=2)
    return sqlite_engine(db, workers=2)


@pytest.fixture
def runs(db: str, tmp_path: Path) -> list[dict[str, str]]:
    """Five runs in this order: alpha Succeeded, beta Failed, alpha Succeeded, beta Failed,
    and an alpha run submitted but not yet started."""
    documents = {
        "alpha": workflow("alpha", dag("main", echo_task("a"))),
        "beta": workflow("beta", dag("main", shell_task("fails", "exit 3"))),
    }
    engine = started_engine(db)
    try:
        for name in ("alpha", "beta", "alpha", "beta"):
            engine.run(documents[name], timeout=60)
    finally:
        engine.stop()
        engine.log.close()
    pending = tmp_path / "alpha.json"
    pending.write_text(json.dumps(documents["alpha"]))
    submitted = aether(db, "submit", str(pending))
    assert submitted.exit_code == 0, submitted.output
    every = listed(db)
    assert [(row["name"], row["phase"]) for row in every[:4]] == [
        ("alpha", "Succeeded"),
        ("beta", "Failed"),
        ("alpha", "Succeeded"),
        ("beta", "Failed"),
    ]
    assert every[4]["runId"] == submitted.stdout.strip()
    return every


def ids(rows: list[dict[str, str]]) -> list[str]:
    return [row["runId"] for row in rows]


def test_phase_keeps_the_runs_in_any_of_the_phases_named_in_any_letter_case(
    db: str, runs: list[dict[str, str]]
) -> None:
    assert ids(listed(db, "--phase", "failed")) == ids(runs[1:4:2])
    both = listed(db, "--phase", "Failed", "--phase", "SUCCEEDED")
    assert ids(both) == ids(runs[:4])
    pending = runs[4]["phase"]
    assert ids(listed(db, "--phase", pending)) == ids(runs[4:])


def test_workflow_keeps_the_runs_of_one_workflow_by_name_or_namespace_and_name(
    db: str, runs: list[dict[str, str]]
) -> None:
    alpha = [row for row in runs if row["name"] == "alpha"]
    assert ids(listed(db, "--workflow", "alpha")) == ids(alpha)
    assert ids(listed(db, "--workflow", f"{runs[0]['namespace']}/alpha")) == ids(alpha)
    assert listed(db, "--workflow", "elsewhere/alpha") == []
    assert listed(db, "--workflow", "gamma") == []


def test_since_keeps_the_runs_created_at_or_after_a_time_or_within_a_duration(
    db: str, runs: list[dict[str, str]]
) -> None:
    assert ids(listed(db, "--since", runs[2]["createdAt"])) == ids(runs[2:])
    assert ids(listed(db, "--since", "1h")) == ids(runs)
    assert listed(db, "--since", "2999-01-01T00:00:00+01:00") == []
    assert ids(listed(db, "--since", "2000-01-01T00:00:00Z")) == ids(runs)


def test_limit_keeps_the_newest_runs_newest_first_and_combines_with_the_other_filters(
    db: str, runs: list[dict[str, str]]
) -> None:
    assert ids(listed(db, "--limit", "2")) == [runs[4]["runId"], runs[3]["runId"]]
    assert ids(listed(db, "--limit", "10")) == ids(runs)[::-1]
    newest_succeeded_alpha = listed(db, "--workflow", "alpha", "--phase", "Succeeded", "--limit", "1")
    assert ids(newest_succeeded_alpha) == [runs[2]["runId"]]
    assert ids(listed(db, "--since", runs[1]["createdAt"], "--phase", "failed", "--limit", "5")) == [
        runs[3]["runId"],
        runs[1]["runId"],
    ]


def test_the_table_shows_the_filtered_runs(db: str, runs: list[dict[str, str]]) -> None:
    shown = aether(db, "list", "--phase", "failed")
    assert shown.exit_code == 0, shown.output
    assert [row["runId"] in shown.stdout for row in runs] == [False, True, False, True, False]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--phase", "Finished"), '--phase "Finished" is not a phase: use one of Created, Ready, Running'),
        (("--workflow", "team/"), '--workflow "team/" is not a workflow name'),
        (("--workflow", "/alpha"), '--workflow "/alpha" is not a workflow name'),
        (("--since", "yesterday"), '--since "yesterday" is neither an RFC 3339 time'),
        (("--since", "2026-13-45T00:00:00Z"), '--since "2026-13-45T00:00:00Z" is neither'),
        (("--limit", "0"), "'--limit'"),
        (("--limit", "many"), "'--limit'"),
    ],
)
def test_bad_filter_values_are_refused_naming_the_option(
    tmp_path: Path, options: tuple[str, ...], message: str
) -> None:
    db = tmp_path / "aether.db"
    refused = aether(str(db), "list", *options)
    assert refused.exit_code == 2, refused.output
    assert message in " ".join(refused.output.replace("│", " ").split())
    assert not db.exists(), "bad input reads nothing, and creates nothing"
