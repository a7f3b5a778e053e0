"""``aether wait RUN`` and ``aether submit --wait``: follow a run another process drives to
its end, print the end as ``aether run`` does, and exit with what it came to: 0 Succeeded,
1 any other end, 2 bad input, 124 at ``--timeout`` (SPEC §6.1 runs, §6.4 phases, §7.7 run
finalization). Real processes on one SQLite file; the same reads on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.commands import aether_command
from support.documents import dag, echo_task, shell_task, workflow
from typer.testing import CliRunner

from aether.cli.main import _register_commands, app
from aether.cli.wait_cmd import EXIT_WAIT_TIMEOUT
from aether.reducers.state import TERMINAL_PHASES
from aether.runtime.setup import postgres_engine

pytestmark = pytest.mark.spec("6.1", "6.4", "7.7")

_register_commands()


class Background:
    """An ``aether`` command running in its own session, its output in files."""

    def __init__(self, directory: Path, name: str, *args: str) -> None:
        self.stdout_path = directory / f"{name}.out"
        self.stderr_path = directory / f"{name}.err"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [*aether_command(), *args], stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
            )

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def exit_code(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@contextlib.contextmanager
def background() -> Iterator[list[Background]]:
    started: list[Background] = []
    try:
        yield started
    finally:
        for process in started:
            process.stop()


def aether(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*aether_command(), *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def until(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def write(tmp_path: Path, name: str, document: dict[str, object]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def submitted(db: Path, document: Path) -> str:
    done = aether("submit", str(document), "--db", str(db))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def slow_flow(tmp_path: Path) -> Path:
    flow = workflow("slow", dag("main", shell_task("nap", "sleep 1"), echo_task("after", dependencies=["nap"])))
    return write(tmp_path, "slow.json", flow)


def test_wait_follows_a_run_a_serve_in_another_process_drives_and_ends_with_it(tmp_path: Path, slow_flow: Path) -> None:
    db = tmp_path / "aether.db"
    run_id = submitted(db, slow_flow)
    with background() as started:
        waiting = Background(tmp_path, "wait", "wait", run_id, "--db", str(db))
        started.append(waiting)
        assert until(lambda: f"run {run_id} (slow)" in waiting.stderr()), waiting.stderr()
        assert waiting.proc.poll() is None, "nothing drives the run yet: it waits"
        serve = Background(tmp_path, "serve", "serve", "--db", str(db))
        started.append(serve)
        assert waiting.exit_code() == 0, waiting.stderr()
    assert waiting.stdout() == ""
    followed = waiting.stderr()
    assert "  main/nap: Running" in followed, "it showed the run's progress while it waited"
    assert f"run {run_id} finished Succeeded" in followed


def test_wait_exits_1_for_a_run_that_failed_and_prints_its_end(tmp_path: Path) -> None:
    db = tmp_path / "aether.db"
    failing = write(tmp_path, "fails.json", workflow("fails", dag("main", shell_task("boom", "exit 3"))))
    ran = aether("run", str(failing), "--json", "--db", str(db))
    assert ran.returncode == 1, ran.stderr
    run_id = json.loads(ran.stdout)["runId"]
    waited = aether("wait", run_id, "--db", str(db))
    assert waited.returncode == 1, waited.stderr
    assert waited.stdout == ""
    assert f"run {run_id} finished Failed" in waited.stderr


def test_wait_gives_up_at_its_timeout_with_its_own_exit_code_and_the_run_goes_on(
    tmp_path: Path, slow_flow: Path
) -> None:
    db = tmp_path / "aether.db"
    run_id = submitted(db, slow_flow)
    began = time.monotonic()
    waited = aether("wait", run_id, "--timeout", "500ms", "--json", "--db", str(db))
    assert waited.returncode == EXIT_WAIT_TIMEOUT == 124, waited.stderr
    assert time.monotonic() - began >= 0.5
    assert f"run {run_id} did not end within 500ms" in waited.stderr
    assert waited.stdout == ""
    listed = aether("list", "--json", "--db", str(db))
    assert [run["phase"] in TERMINAL_PHASES for run in json.loads(listed.stdout)] == [False]


def test_wait_for_an_unknown_run_or_with_a_bad_timeout_is_bad_input(tmp_path: Path, slow_flow: Path) -> None:
    db = tmp_path / "aether.db"
    run_id = submitted(db, slow_flow)
    unknown = aether("wait", "no-such-run", "--db", str(db))
    assert unknown.returncode == 2, unknown.stderr
    assert "no-such-run not found" in unknown.stderr
    bad = aether("wait", run_id, "--timeout", "soon", "--db", str(db))
    assert bad.returncode == 2, bad.stderr
    assert '--timeout "soon" is not a duration' in bad.stderr
    missing = aether("wait", run_id, "--db", str(tmp_path / "missing.db"))
    assert missing.returncode == 2, missing.stderr
    assert not (tmp_path / "missing.db").exists()


def test_submit_wait_submits_then_waits_for_the_serve_to_end_the_run(tmp_path: Path, slow_flow: Path) -> None:
    db = tmp_path / "aether.db"
    with background() as started:
        serve = Background(tmp_path, "serve", "serve", "--db", str(db))
        started.append(serve)
        assert until(lambda: "aether: serving" in serve.stderr()), serve.stderr()
        waited = aether("submit", str(slow_flow), "--wait", "--timeout", "50s", "--json", "--db", str(db))
    assert waited.returncode == 0, waited.stderr
    view = json.loads(waited.stdout)
    assert (view["name"], view["phase"]) == ("slow", "Succeeded")
    assert [task["phase"] for task in view["tasks"]] == ["Succeeded"] * 3
    assert waited.stderr == "", "--json is quiet on stderr, as with `aether run --json`"


def test_submit_wait_prints_the_id_first_and_exits_1_when_the_run_fails(tmp_path: Path) -> None:
    db = tmp_path / "aether.db"
    failing = write(tmp_path, "fails.json", workflow("fails", dag("main", shell_task("boom", "exit 3"))))
    with background() as started:
        serve = Background(tmp_path, "serve", "serve", "--db", str(db))
        started.append(serve)
        assert until(lambda: "aether: serving" in serve.stderr()), serve.stderr()
        waited = aether("submit", str(failing), "--wait", "--db", str(db))
    assert waited.returncode == 1, waited.stderr
    run_id = waited.stdout.strip()
    assert f"run {run_id} finished Failed" in waited.stderr


def test_wait_reads_a_postgresql_database_as_it_reads_sqlite(postgres_url: str, tmp_path: Path) -> None:
    engine = postgres_engine(postgres_url, workers=2)
    try:
        done = engine.run(workflow("quick", dag("main", echo_task("a"))), timeout=60)
    finally:
        engine.stop()
        engine.log.close()
    waited = CliRunner().invoke(app, ["wait", done["runId"], "--json", "--db", postgres_url])
    assert waited.exit_code == 0, waited.output
    assert json.loads(waited.stdout)["phase"] == "Succeeded"
    pending = write(tmp_path, "pending.json", workflow("pending", dag("main", echo_task("a"))))
    run_id = CliRunner().invoke(app, ["submit", str(pending), "--db", postgres_url]).stdout.strip()
    gave_up = CliRunner().invoke(app, ["wait", run_id, "--timeout", "300ms", "--db", postgres_url])
    assert gave_up.exit_code == EXIT_WAIT_TIMEOUT, gave_up.output
    unknown = CliRunner().invoke(app, ["wait", "no-such-run", "--db", postgres_url])
    assert unknown.exit_code == 2, unknown.output


def test_submit_refuses_wait_options_without_wait(tmp_path: Path, slow_flow: Path) -> None:
    db = tmp_path / "aether.db"
    refused = aether("submit", str(slow_flow), "--timeout", "1m", "--db", str(db))
    assert refused.returncode == 2
    assert "--timeout and --json of submit go with --wait" in refused.stderr
    assert not db.exists()
