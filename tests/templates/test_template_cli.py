"""``aether template apply|list|get|delete`` and the commands that resolve references
against the database (``run``, ``submit``, ``cron create``, ``validate --db``): bad input
exits 2 with nothing written and never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from click.testing import Result
from support.documents import dag
from template_support import calling, echo_leaf, extending, library, ref_task
from typer.testing import CliRunner

from aether.cli import cron_cmd, run_cmd, template_cmd, validate_cmd
from aether.store.sqlite import SqliteEventLog

pytestmark = pytest.mark.spec("13.1", "13.2", "13.3", "3.3.11")


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    for module in (template_cmd, run_cmd, cron_cmd, validate_cmd):
        module.register(app)
    return app


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "aether.db")


def write(tmp_path: Path, doc: dict[str, Any], name: str) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def aether(app: typer.Typer, *args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    # A command ends by exiting (0, 1 or 2), never by an exception escaping it.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def positions(db: str) -> int:
    log = SqliteEventLog(db)
    try:
        return log.last_position()
    finally:
        log.close()


def test_apply_list_get_delete(app: typer.Typer, db: str, tmp_path: Path) -> None:
    lib = write(tmp_path, library("lib", echo_leaf("hello"), echo_leaf("bye"), entrypoint="hello"), "lib.json")
    ops = write(tmp_path, library("lib", echo_leaf("ops"), namespace="ops"), "ops.json")
    applied = aether(app, "template", "apply", lib, ops, "--db", db)
    assert applied.exit_code == 0, applied.output
    assert applied.stdout.splitlines() == ["default/lib applied (revision 1)", "ops/lib applied (revision 1)"]
    again = aether(app, "template", "apply", lib, "--db", db)
    assert again.stdout.strip() == "default/lib applied (revision 2)"

    listed = json.loads(aether(app, "template", "list", "--json", "--db", db).stdout)
    assert [(r["namespace"], r["name"], r["templates"], r["revision"]) for r in listed] == [
        ("default", "lib", ["hello", "bye"], 2),
        ("ops", "lib", ["ops"], 1),
    ]
    table = aether(app, "template", "list", "--db", db)
    assert table.exit_code == 0 and "default/lib" in table.stdout and "ops/lib" in table.stdout

    shown = json.loads(aether(app, "template", "get", "lib", "-n", "ops", "--json", "--db", db).stdout)
    assert (shown["namespace"], shown["spec"]["templates"][0]["task"]["name"]) == ("ops", "ops")
    text = aether(app, "template", "get", "default/lib", "--db", db)
    assert text.exit_code == 0 and "revision 2" in text.stdout and "entrypoint hello" in text.stdout

    deleted = aether(app, "template", "delete", "lib", "--namespace", "ops", "--db", db)
    assert (deleted.exit_code, deleted.stdout.strip()) == (0, "deleted lib")
    gone = aether(app, "template", "get", "ops/lib", "--db", db)
    assert gone.exit_code == 2
    assert "E-TEMPLATE-NOT-FOUND: workflow template ops/lib not found" in gone.stderr
    again_deleted = aether(app, "template", "delete", "ops/lib", "--db", db)
    assert again_deleted.exit_code == 2 and "not found" in again_deleted.stderr


def test_apply_writes_nothing_unless_every_file_is_valid(app: typer.Typer, db: str, tmp_path: Path) -> None:
    good = write(tmp_path, library("good", echo_leaf("a")), "good.json")
    bad = write(tmp_path, library("bad", dag("main", ref_task("x", "nowhere", "a"))), "bad.json")
    refused = aether(app, "template", "apply", good, bad, "--db", db)
    assert refused.exit_code == 2
    assert 'E-TEMPLATE-REF-NOT-FOUND templateRef "nowhere" not found' in refused.stderr
    assert "nothing applied" in refused.stderr
    assert not Path(db).exists()
    workflow = write(tmp_path, calling("w", "good", "a"), "w.json")
    wrong_kind = aether(app, "template", "apply", workflow, "--db", db)
    assert wrong_kind.exit_code == 2 and "E-KIND" in wrong_kind.stderr
    assert not Path(db).exists()


def test_list_and_get_need_a_database(app: typer.Typer, db: str) -> None:
    missing = aether(app, "template", "list", "--db", db)
    assert missing.exit_code == 2 and "no database" in missing.stderr


def test_run_and_submit_resolve_from_the_database(app: typer.Typer, db: str, tmp_path: Path) -> None:
    uses_ref = write(tmp_path, calling("w", "lib", "hello"), "ref.json")
    uses_spec = write(tmp_path, extending("w", "lib"), "spec.json")
    # No database yet: nothing resolves, nothing is created.
    for command in ("run", "submit"):
        for path in (uses_ref, uses_spec):
            refused = aether(app, command, path, "--db", db)
            assert refused.exit_code == 2, refused.output
            assert "E-TEMPLATE-REF-NOT-FOUND" in refused.stderr
    assert not Path(db).exists()
    aether(
        app,
        "template",
        "apply",
        write(tmp_path, library("lib", echo_leaf("hello"), entrypoint="hello"), "l.json"),
        "--db",
        db,
    )
    for path in (uses_ref, uses_spec):
        ran = aether(app, "run", path, "--json", "--db", db)
        assert ran.exit_code == 0, ran.output
        assert json.loads(ran.stdout)["phase"] == "Succeeded"
    submitted = aether(app, "submit", uses_spec, "--db", db)
    assert submitted.exit_code == 0 and submitted.stdout.strip()
    # A reference to a template the stored one does not have: refused, nothing written.
    before = positions(db)
    wrong = write(tmp_path, calling("w", "lib", "nope"), "wrong.json")
    for command in ("run", "submit"):
        refused = aether(app, command, wrong, "--db", db)
        assert refused.exit_code == 2
        assert 'E-TEMPLATE-REF-TEMPLATE templateRef "lib/nope": template not found' in refused.stderr
    assert positions(db) == before


def test_cron_create_resolves_from_the_database(app: typer.Typer, db: str, tmp_path: Path) -> None:
    cron = {
        "apiVersion": "aether/v1",
        "kind": "CronWorkflow",
        "metadata": {"name": "hourly"},
        "spec": {"schedule": "@hourly", "workflowSpec": {"workflowTemplateRef": {"name": "lib"}}},
    }
    path = write(tmp_path, cron, "cron.json")
    refused = aether(app, "cron", "create", path, "--db", db)
    assert refused.exit_code == 2
    assert 'workflowTemplateRef "default/lib" not found' in refused.stderr
    assert not Path(db).exists()
    aether(
        app,
        "template",
        "apply",
        write(tmp_path, library("lib", echo_leaf("hello"), entrypoint="hello"), "l.json"),
        "--db",
        db,
    )
    created = aether(app, "cron", "create", path, "--db", db)
    assert (created.exit_code, created.stdout.strip()) == (0, "default/hourly")


def test_validate_checks_references_only_against_a_database(app: typer.Typer, db: str, tmp_path: Path) -> None:
    path = write(tmp_path, calling("w", "lib", "hello"), "ref.json")
    plain = write(tmp_path, library("lib", echo_leaf("hello")), "lib.json")
    unchecked = aether(app, "validate", path, plain)
    assert unchecked.exit_code == 0
    assert unchecked.stdout.splitlines() == [
        f"{path}: valid (template references not checked: no --db)",
        f"{plain}: valid",
    ]
    as_json = json.loads(aether(app, "validate", "--json", path, plain).stdout)
    assert as_json[0]["uncheckedReferences"] == ['templateRef "lib/hello"']
    assert "uncheckedReferences" not in as_json[1]
    against_empty = aether(app, "validate", "--db", db, path)
    assert against_empty.exit_code == 2 and "E-TEMPLATE-REF-NOT-FOUND" in against_empty.stderr
    assert not Path(db).exists()
    aether(app, "template", "apply", plain, "--db", db)
    checked = aether(app, "validate", "--db", db, path)
    assert (checked.exit_code, checked.stdout.strip()) == (0, f"{path}: valid")
