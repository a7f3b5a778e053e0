"""Cron runs in the listings: pruned runs leave ``aether list`` (SPEC §12.4) and every
processed tick is kept in the ``cron_history`` read model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cron_helpers import cron_doc
from typer.testing import CliRunner

from aether.cli.main import _register_commands, app
from aether.runtime.setup import sqlite_engine

pytestmark = pytest.mark.spec("12.4", "12.6")

_register_commands()


def aether(db: Path, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--db", str(db)])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_pruned_runs_leave_the_listing_and_every_tick_is_in_the_cron_history(tmp_path: Path) -> None:
    db = tmp_path / "aether.db"
    source = tmp_path / "cron.json"
    source.write_text(json.dumps(cron_doc("keep-one", successfulJobsHistoryLimit=1)))
    aether(db, "cron", "create", str(source))
    run_ids = []
    for _ in range(3):
        run_ids.append(aether(db, "cron", "trigger", "keep-one").strip())
        aether(db, "serve", "--until-idle")
    listed = [row["runId"] for row in json.loads(aether(db, "list", "--json"))]
    assert listed == [run_ids[-1]], "only the newest succeeded run is kept"

    engine = sqlite_engine(db, workers=0)
    engine.catch_up_projections()
    assert engine.projector is not None
    conn = engine.projector.db.conn
    history = conn.execute(
        "SELECT trigger, outcome, run_id FROM cron_history WHERE cron = 'default/keep-one' ORDER BY seq"
    ).fetchall()
    assert history == [("manual", "submitted", run_id) for run_id in run_ids]
    pruned = {row[0] for row in conn.execute("SELECT run_id FROM pruned_runs")}
    assert pruned == set(run_ids[:-1])
