"""Ids in the tables of ``aether list``, ``get``, ``cron list``, ``cron get`` and ``template
list`` are whole at any terminal width: a person copies them into the next command.
SPEC §6.1 (run ids), §6.2 (node ids), §12.6 (cron names), §13.1 (template names)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.documents import cron_workflow, dag, echo_task, workflow, workflow_template
from typer.testing import CliRunner, Result

from aether.cli.main import _register_commands, app

pytestmark = pytest.mark.spec("6.1", "6.2", "12.6", "13.1")

_register_commands()

WIDTHS = (60, 80)
LONG_TASKS = ("transform-every-customer-record-of-the-quarter", "publish-the-quarterly-report-to-the-archive")


def aether_at(width: int, db: Path, *args: str) -> Result:
    """``aether ARGS --db DB`` on a terminal ``width`` columns wide (Rich reads COLUMNS)."""
    result = CliRunner().invoke(app, [*args, "--db", str(db)], env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    return result


def first_column(output: str) -> list[str]:
    """What a person copies out of the first column of a table: the text of each cell
    that is not a continuation line of a folded row."""
    cells = [line.split("│")[1].strip() for line in output.splitlines() if line.startswith("│")]
    return [cell for cell in cells if cell]


def write(tmp_path: Path, name: str, document: dict[str, object]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def db_with_runs(tmp_path: Path) -> tuple[Path, list[str]]:
    db = tmp_path / "aether.db"
    flow = workflow(
        "a-workflow-whose-name-is-rather-long-for-a-table",
        dag("main", echo_task(LONG_TASKS[0]), echo_task(LONG_TASKS[1], dependencies=[LONG_TASKS[0]])),
    )
    document = write(tmp_path, "flow.json", flow)
    run_ids = [json.loads(aether_at(80, db, "run", str(document), "--json").stdout)["runId"] for _ in range(3)]
    return db, run_ids


@pytest.mark.parametrize("width", WIDTHS)
def test_list_shows_every_run_id_whole(db_with_runs: tuple[Path, list[str]], width: int) -> None:
    db, run_ids = db_with_runs
    output = aether_at(width, db, "list").stdout
    assert first_column(output) == run_ids
    assert "…" not in output


@pytest.mark.parametrize("width", WIDTHS)
def test_get_shows_the_run_id_and_every_node_id_whole(db_with_runs: tuple[Path, list[str]], width: int) -> None:
    db, run_ids = db_with_runs
    output = aether_at(width, db, "get", run_ids[1]).stdout
    assert f"run {run_ids[1]}" in output
    assert first_column(output) == ["main", *(f"main/{name}" for name in LONG_TASKS)]
    assert "…" not in output


def test_ids_wider_than_the_terminal_are_printed_whole_on_longer_lines(tmp_path: Path) -> None:
    db = tmp_path / "aether.db"
    very_long = "a-task-name-so-long-that-with-its-dag-it-is-over-sixty-wide"
    assert len(f"main/{very_long}") > 60
    document = write(tmp_path, "flow.json", workflow("wide", dag("main", echo_task(very_long))))
    run_id = json.loads(aether_at(60, db, "run", str(document), "--json").stdout)["runId"]
    output = aether_at(60, db, "get", run_id).stdout
    assert f"main/{very_long}" in first_column(output)
    assert max(len(line) for line in output.splitlines()) > 60


@pytest.mark.parametrize("width", WIDTHS)
def test_cron_list_and_cron_get_show_cron_names_and_run_ids_whole(tmp_path: Path, width: int) -> None:
    db = tmp_path / "aether.db"
    name = "nightly-consolidation-of-every-regional-ledger"
    cron = cron_workflow(name, "0 3 * * *", dag("main", echo_task("a")), namespace="finance-department")
    aether_at(80, db, "cron", "create", str(write(tmp_path, "cron.json", cron)))
    run_ids = [aether_at(80, db, "cron", "trigger", name, "-n", "finance-department").stdout.strip() for _ in range(2)]

    listed = aether_at(width, db, "cron", "list").stdout
    assert first_column(listed) == [f"finance-department/{name}"]
    shown = aether_at(width, db, "cron", "get", name, "-n", "finance-department").stdout
    assert first_column(shown) == run_ids
    assert "…" not in listed + shown


@pytest.mark.parametrize("width", WIDTHS)
def test_template_list_shows_template_names_whole(tmp_path: Path, width: int) -> None:
    db = tmp_path / "aether.db"
    name = "shared-steps-for-every-reporting-workflow-we-run"
    library = workflow_template(name, dag("main", echo_task("a")))
    aether_at(80, db, "template", "apply", str(write(tmp_path, "library.json", library)))
    listed = aether_at(width, db, "template", "list").stdout
    assert first_column(listed) == [f"default/{name}"]
    assert "…" not in listed
