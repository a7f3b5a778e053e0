"""Crash recovery (ARCHITECTURE rules 5 and 6): ``aether serve`` SIGKILLed at 20 random
moments and restarted each time finishes the run exactly as a crash-free run would.

``aether submit`` records a run of about fifteen shell tasks; then, 20 times, ``aether
serve --workers 4`` starts and is SIGKILLed at a random moment drawn from
``random.Random(SEED)`` once it is serving; finally ``aether serve --until-idle`` runs the
rest. Checked:

- the run ends Succeeded, every node in its expected phase (the sleeping task Timeout);
- from the log: every node has exactly one ``NodeCompleted``, every leaf at most one
  ``TaskResultRecorded`` with phase Succeeded, every attempt at most one recorded result
  (exactly-once recording);
- at-least-once execution: every recorded worker result came from an execution, and no
  task started executing after its node's completion was committed (a task whose result
  was recorded is never re-run);
- ``aether replay RUN --verify`` exits 0;
- the read models (``runs``, ``tasks``, ``phase_history``) that the engines kept current
  in the database through the crashes equal the ones a fresh projector rebuilds from the
  log, and agree with the run view of a fresh fold.

Set ``AETHER_CRASH_SEED`` to try another sequence of kills.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from pathlib import Path

import pytest
from crash_support import (
    EXPECTED_PHASES,
    LEAVES,
    SERVE_READY,
    crash_workflow,
    executions,
    read_run,
    reap_orphans,
    results_recorded,
    run_finished,
    start,
    stream_version,
    table_rows,
    wait_for_progress,
)
from support.commands import aether_command

from aether.events.catalog import RetryScheduled, TimerFired
from aether.projections.views import run_view
from aether.reducers.run import fold

pytestmark = pytest.mark.spec("6.3", "10.2", "15")

SEED = int(os.environ.get("AETHER_CRASH_SEED", "20260301"))
KILLS = 20
MAX_PROGRESS = 1  # kill once 0..MAX_PROGRESS more task results were recorded since "serving" ...
JITTER = (0.0, 0.1)  # ... plus this many seconds
MIN_KILLS_WHILE_RUNNING = 4
PROGRESS_TIMEOUT = 3.0  # ... or after this long without that progress (the run may be over)
READY_TIMEOUT = 60.0  # a loaded CI machine can take a while to import everything
FINAL_TIMEOUT = 180.0
# view_pages is compared through what it serves (a restarted projector writes every page
# at its next checkpoint, a rebuild only the changed ones): the views at every point.
TABLES = ("runs", "tasks", "phase_history", "node_view_history", "run_view_history", "run_clock", "view_checkpoints")


def _run(args: list[str], env: dict[str, str], timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.slow
@pytest.mark.timeout(900)  # 20 restarts, each allowed READY_TIMEOUT to start on a loaded machine
def test_serve_killed_at_random_moments_finishes_the_run_as_if_nothing_happened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    began = time.monotonic()
    aether = aether_command()
    db = tmp_path / "aether.db"
    env = {**os.environ, "AETHER_DB": str(db)}
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps(crash_workflow(tmp_path)))
    log_file = tmp_path / "executions.log"

    submitted = _run([*aether, "submit", str(flow)], env)
    assert submitted.returncode == 0, submitted.stderr
    run_id = submitted.stdout.strip()

    rng = random.Random(SEED)
    kills_while_running = 0
    kill_points: list[int] = []  # the run's log length after each kill
    lives: dict[int, tuple[float, float]] = {}  # serve pid -> (started, ended), wall clock
    try:
        for kill in range(KILLS):
            born = time.time()
            serve = start([*aether, "serve", "--workers", "4"], env, tmp_path, f"serve-{kill}")
            try:
                serve.wait_for(SERVE_READY, READY_TIMEOUT)
                # A random moment of the run's progress: once 0 or 1 more task results were
                # recorded (or a while passed), plus a random jitter. Kills so land all through
                # the run: in recovery, mid-task, mid-commit, between a dispatch and its result.
                progress, jitter = rng.randint(0, MAX_PROGRESS), rng.uniform(*JITTER)
                wait_for_progress(db, run_id, results_recorded(db, run_id) + progress, PROGRESS_TIMEOUT)
                time.sleep(jitter)
            finally:
                serve.kill()
            lives[serve.proc.pid] = (born, time.time())
            assert serve.proc.returncode == -9, f"serve ended by itself:\n{serve.text()}"
            kills_while_running += not run_finished(db, run_id)
            kill_points.append(stream_version(db, run_id))

        born = time.time()
        final = start([*aether, "serve", "--until-idle", "--workers", "4"], env, tmp_path, "serve-final")
        try:
            final.proc.wait(timeout=FINAL_TIMEOUT)
        finally:
            final.kill()
        lives[final.proc.pid] = (born, time.time())
        assert final.proc.returncode == 0, final.text()
    finally:
        reap_orphans(log_file, db)

    # The kills must have hit the run, not an idle engine: each restart lets a result or two
    # through, and the run records at least fifteen.
    assert kills_while_running >= MIN_KILLS_WHILE_RUNNING, kill_points

    # --- the run ------------------------------------------------------------------------------
    got = _run([*aether, "get", run_id, "--json"], env)
    assert got.returncode == 0, got.stderr
    view = json.loads(got.stdout)
    assert view["phase"] == "Succeeded", view
    phases = {t["id"]: t["phase"] for t in view["tasks"] if t["templateType"] == "task"}
    assert phases == EXPECTED_PHASES
    # A fresh engine's view (``aether get``) is the fold of the log.
    assert view == run_view(fold(e for _v, e, _t in read_run(db, run_id).events))

    # --- exactly-once recording -------------------------------------------------------------
    run = read_run(db, run_id)
    completed = run.completed()
    assert set(completed) == {t["id"] for t in view["tasks"]}
    assert [n for n, count in completed.items() if count != 1] == [], completed
    assert [n for n, count in run.succeeded_results().items() if count > 1] == []
    assert [a for a, count in run.results_per_attempt().items() if count > 1] == []

    # --- at-least-once execution, never after the result -----------------------------------------
    ran = executions(log_file)
    per_node = {leaf: [e for e in ran if e.node_id == leaf] for leaf in LEAVES}
    assert {e.node_id for e in ran} <= set(LEAVES), "an execution of something that is not a leaf"
    reported = run.reported()
    for leaf in LEAVES:
        assert len(per_node[leaf]) >= reported[leaf], f"{leaf}: a recorded result with no execution behind it"
    # Started after the node's completion was committed, by an engine still alive then: a
    # re-run. (A task process that an engine forked just before it was killed may run its
    # first line a little later, as an orphan: its parent is then gone, which is allowed.)
    completed_at = run.completed_at()
    rerun = [
        (e.node_id, round(e.started_ns / 1e9 - completed_at[e.node_id], 3), e.parent)
        for e in ran
        if e.started_ns / 1e9 > completed_at[e.node_id]
        and e.parent in lives
        and lives[e.parent][1] > completed_at[e.node_id]
    ]
    assert rerun == [], f"tasks executed again after their result was recorded: {rerun}"
    orphans = sum(1 for e in ran if e.parent not in lives)
    assert orphans <= len(ran) // 2, "tasks are not children of the serve processes: the check above is vacuous"

    # --- replay ------------------------------------------------------------------------------
    verified = _run([*aether, "replay", run_id, "--verify"], env)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith(f"verified {len(run.events)} events")

    # --- projections: kept live by the engines through 20 crashes, then rebuilt --------------------
    from aether.store.projector import Projector
    from aether.store.sqlite import SqliteEventLog

    log = SqliteEventLog(db)
    try:
        with Projector(log, db) as live:  # the engines' own projector: same name, same tables
            behind = live.behind()
            live.catch_up()
        with Projector(log, tmp_path / "rebuilt.db") as rebuilt:
            rebuilt.rebuild()
    finally:
        log.close()
    live_rows, rebuilt_rows = table_rows(db, TABLES), table_rows(tmp_path / "rebuilt.db", TABLES)
    for table in TABLES:
        assert live_rows[table] == rebuilt_rows[table], f"table {table}: the live projection differs from a rebuild"
    from aether.store.view_history_reader import ViewHistoryReader

    live_views, rebuilt_views = ViewHistoryReader(db), ViewHistoryReader(tmp_path / "rebuilt.db")
    for n in range(1, len(run.events) + 1):
        live_at, rebuilt_at = live_views.view_at(run_id, n), rebuilt_views.view_at(run_id, n)
        assert live_at is not None and rebuilt_at is not None
        assert live_at.to_dict() == rebuilt_at.to_dict(), f"the view at event {n} differs from a rebuild"
    live_views.close()
    rebuilt_views.close()
    (run_row,) = live_rows["runs"]
    assert run_row[0] == run_id and run_row[3] == "Succeeded" and run_row[8] == view["progress"]
    task_phases = {row[1]: row[7] for row in live_rows["tasks"] if row[0] == run_id}
    assert task_phases == {t["id"]: t["phase"] for t in view["tasks"]}

    # --- figures -----------------------------------------------------------------------------
    attempts = run.attempts()
    executed = len(ran)
    recorded = sum(reported.values())
    timers = sum(1 for _v, e, _t in run.of_type(TimerFired))
    retries = sum(1 for _v, e, _t in run.of_type(RetryScheduled))
    extra = {leaf: len(per_node[leaf]) - reported[leaf] for leaf in LEAVES if len(per_node[leaf]) > reported[leaf]}
    with capsys.disabled():
        print(
            f"\ncrash test (seed {SEED}): {KILLS} kills ({kills_while_running} while the run was active), "
            f"{len(run.events)} events, killed at events {kill_points}; "
            f"{executed} executions for {sum(attempts.values())} attempts, "
            f"{recorded} worker results recorded; executed more than recorded: "
            f"{sum(extra.values())} times on {len(extra)} tasks {sorted(extra.items())}; "
            f"{orphans} started as orphans; {timers} timers fired, {retries} retries; "
            f"read models {behind} events behind after the last serve; {time.monotonic() - began:.1f} s"
        )
