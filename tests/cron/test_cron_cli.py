"""``aether cron …``: the commands call the service; bad input exits 2 with nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from cron_helpers import ECHO_SUSPEND, cron_doc
from typer.testing import CliRunner, Result

from aether.cli.cron_cmd import register
from aether.store.sqlite import SqliteEventLog

pytestmark = pytest.mark.spec("12.5", "12.6")


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    register(app)
    return app


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "aether.db")


def write(tmp_path: Path, doc: dict[str, Any], name: str = "cron.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def cron(app: typer.Typer, db: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["cron", *args, "--db", db])


def positions(db: str) -> int:
    log = SqliteEventLog(db)
    try:
        return log.last_position()
    finally:
        log.close()


def test_create_list_get(app: typer.Typer, db: str, tmp_path: Path) -> None:
    created = cron(app, db, "create", write(tmp_path, cron_doc("nightly", "@hourly", namespace="ops")))
    assert created.exit_code == 0, created.output
    assert created.stdout.strip() == "ops/nightly"
    listed = cron(app, db, "list", "--json")
    assert [(r["namespace"], r["name"], r["schedule"]) for r in json.loads(listed.stdout)] == [
        ("ops", "nightly", "@hourly")
    ]
    got = cron(app, db, "get", "nightly", "--namespace", "ops", "--json")
    view = json.loads(got.stdout)
    assert view["status"] == {**view["status"], "lastScheduleTime": None, "lastRunId": None}
    assert view["runs"] == []
    text = cron(app, db, "get", "ops/nightly")
    assert text.exit_code == 0 and "ops/nightly" in text.stdout


def test_invalid_document_exits_2_and_writes_nothing(app: typer.Typer, db: str, tmp_path: Path) -> None:
    result = cron(app, db, "create", write(tmp_path, cron_doc(schedule="* * *")))
    assert result.exit_code == 2
    assert "E-CRON-SCHEDULE" in result.output
    assert not Path(db).exists()


def test_update_flags_and_refusals(app: typer.Typer, db: str, tmp_path: Path) -> None:
    assert cron(app, db, "create", write(tmp_path, cron_doc())).exit_code == 0
    before = positions(db)
    bad = cron(app, db, "update", "nightly", "--schedule", "99 * * * *")
    assert bad.exit_code == 2 and "E-CRON-FIELD" in bad.output
    immutable = cron(app, db, "update", "nightly", write(tmp_path, cron_doc(template=ECHO_SUSPEND), "new.json"))
    assert immutable.exit_code == 2 and "spec.workflowSpec is immutable" in immutable.output
    nothing = cron(app, db, "update", "nightly")
    assert nothing.exit_code == 2
    missing = cron(app, db, "suspend", "nope")
    assert missing.exit_code == 2 and "E-CRON-NOT-FOUND" in missing.output
    assert positions(db) == before
    ok = cron(
        app,
        db,
        "update",
        "nightly",
        "--schedule",
        "0 4 * * *",
        "--timezone",
        "Europe/Paris",
        "--policy",
        "Replace",
        "--suspend",
    )
    assert ok.exit_code == 0, ok.output
    spec = json.loads(cron(app, db, "get", "nightly", "--json").stdout)["spec"]
    assert (spec["schedule"], spec["timezone"], spec["concurrencyPolicy"], spec["suspend"]) == (
        "0 4 * * *",
        "Europe/Paris",
        "Replace",
        True,
    )
    assert cron(app, db, "resume", "nightly").exit_code == 0
    assert json.loads(cron(app, db, "get", "nightly", "--json").stdout)["spec"]["suspend"] is False


def test_trigger_backfill_delete(app: typer.Typer, db: str, tmp_path: Path) -> None:
    assert cron(app, db, "create", write(tmp_path, cron_doc(schedule="0 0 1 1 *"))).exit_code == 0
    triggered = cron(app, db, "trigger", "nightly", "--json")
    assert triggered.exit_code == 0, triggered.output
    run_id = json.loads(triggered.stdout)["runId"]
    filled = cron(
        app, db, "backfill", "nightly", "--from", "2020-01-01T00:00:00Z", "--to", "2023-01-01T00:00:00Z", "--json"
    )
    assert filled.exit_code == 0, filled.output
    assert [o["scheduledTime"] for o in json.loads(filled.stdout)] == [
        "2020-01-01T00:00:00.000Z",
        "2021-01-01T00:00:00.000Z",
        "2022-01-01T00:00:00.000Z",
    ]
    runs = json.loads(cron(app, db, "get", "nightly", "--json").stdout)["runs"]
    assert [r["trigger"] for r in runs] == ["manual", "backfill", "backfill", "backfill"]
    assert runs[0]["runId"] == run_id
    too_large = cron(app, db, "backfill", "nightly", "--from", "1000-01-01T00:00:00Z", "--to", "2020-01-01T00:00:00Z")
    assert too_large.exit_code == 2 and "E-BACKFILL-TOO-LARGE" in too_large.output
    assert cron(app, db, "delete", "nightly").exit_code == 0
    assert json.loads(cron(app, db, "list", "--json").stdout) == []
    assert cron(app, db, "get", "nightly").exit_code == 2


def test_commands_need_an_existing_database(app: typer.Typer, db: str) -> None:
    result = cron(app, db, "list")
    assert result.exit_code == 2 and "no database" in result.output


@pytest.mark.spec("12.2")
@pytest.mark.parametrize("json_output", [False, True])
def test_a_skipped_manual_tick_exits_1_with_or_without_json(
    app: typer.Typer, db: str, tmp_path: Path, json_output: bool
) -> None:
    assert cron(app, db, "create", write(tmp_path, cron_doc(concurrencyPolicy="Forbid"))).exit_code == 0
    flags = ["--json"] if json_output else []
    assert cron(app, db, "trigger", "nightly", *flags).exit_code == 0  # no workers: the run stays unfinished
    skipped = cron(app, db, "trigger", "nightly", *flags)
    assert skipped.exit_code == 1
    if json_output:
        outcome = json.loads(skipped.stdout)
        assert outcome["runId"] is None and outcome["skipped"] == "forbidden"
    else:
        assert "skipped: forbidden" in skipped.stderr
