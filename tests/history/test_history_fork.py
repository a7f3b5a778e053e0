"""``aether retry RUN`` and ``aether reset RUN --to SEQ``: a new run that takes over the
recorded results of what succeeded and runs again what failed, errored, timed out or was
cancelled, and everything that depends on it; the new run records where it came from."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from history_support import Driver, cli, cli_json, scripted_dag
from support.documents import dag, dag_task, executor, loop, parameters, shell_task, task, workflow

from aether.events import catalog as ev
from aether.events.compaction import expand
from aether.history.time_travel import state_at
from aether.runtime.engine import Engine
from aether.store.sqlite import SqliteEventLog

JSON = Any


def _dispatch_reasons(driver: Driver, run_id: str) -> dict[str, list[str]]:
    reasons: dict[str, list[str]] = {}
    for _seq, event in driver.events(run_id):
        if isinstance(event, ev.TaskDispatched):
            reasons.setdefault(event.node_id, []).append(event.reason)
    return reasons


# --- the whole thing through the command line, with shell tasks -------------------------------


def _shell_pipeline(tmp_path: Path) -> dict[str, JSON]:
    log, mark = tmp_path / "executions.log", tmp_path / "fixed"

    def logged(name: str, deps: list[str], extra: str = "") -> dict[str, JSON]:
        return shell_task(name, f"echo {name} >> {log}{extra}", dependencies=deps)

    return workflow(
        "pipeline",
        dag(
            "main",
            logged("prep", []),
            logged("side", []),
            logged("flaky", ["prep"], f"; test -e {mark} || {{ echo 'not fixed' >&2; exit 1; }}"),
            logged("after", ["flaky"]),
            logged("tail", ["side"]),
        ),
    )


def _executions(tmp_path: Path) -> Counter[str]:
    return Counter((tmp_path / "executions.log").read_text().split())


def test_retry_reuses_what_succeeded_and_reruns_the_failed_task_and_its_dependents(tmp_path: Path) -> None:
    db = tmp_path / "aether.db"
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps(_shell_pipeline(tmp_path)))
    failed = cli(db, "run", str(flow), "--json")
    assert failed.exit_code == 1, failed.stderr
    origin = json.loads(failed.stdout)
    assert origin["phase"] == "Failed"
    assert _executions(tmp_path) == Counter(prep=1, side=1, flaky=1, tail=1)
    origin_events = cli(db, "export", origin["runId"]).stdout

    (tmp_path / "fixed").touch()
    retried = cli(db, "retry", origin["runId"])
    assert retried.exit_code == 0, retried.stderr
    new_id = retried.stdout.strip()
    assert new_id and new_id != origin["runId"]
    served = cli(db, "serve", "--until-idle", "--workers", "2")
    assert served.exit_code == 0, served.stderr

    view = cli_json(db, "get", new_id, "--json")
    assert view["phase"] == "Succeeded", view
    # prep, side and tail are taken over: their commands did not run again.
    assert _executions(tmp_path) == Counter(prep=1, side=1, flaky=2, tail=1, after=1)
    assert view["origin"]["runId"] == origin["runId"]
    assert view["origin"]["kind"] == "retry"
    assert "atSeq" not in view["origin"]
    assert sorted(view["origin"]["reuse"]) == ["main/prep", "main/side", "main/tail"]
    by_id = {t["id"]: t for t in view["tasks"]}
    for node in ("main/prep", "main/side", "main/tail"):
        assert by_id[node]["phase"] == "Succeeded" and by_id[node]["attempts"] == 1
        reused = {t["id"]: t for t in origin["tasks"]}[node]
        assert by_id[node]["outputs"] == reused["outputs"]
    assert cli(db, "replay", new_id, "--verify").exit_code == 0
    # The origin is untouched.
    assert cli(db, "export", origin["runId"]).stdout == origin_events
    assert cli_json(db, "get", origin["runId"], "--json")["phase"] == "Failed"


# --- which nodes run again --------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "aether.db"


def test_a_succeeded_dependent_of_a_rerun_task_runs_again(db: Path) -> None:
    """c succeeded in the origin, but it depends on b, which runs anew: c must too. (The
    origin itself succeeded: b's continueOn tolerates its failure.)"""
    driver = Driver.on_sqlite(db, run_ids=["origin"])
    driver.scripted.outcomes["b"] = 2
    doc = scripted_dag(
        [
            {"name": "a"},
            {"name": "b", "dependencies": ["a"], "continueOn": {"failed": True}},
            {"name": "c", "dependencies": ["b"]},
            {"name": "d", "dependencies": ["a"]},
        ]
    )
    assert driver.engine.get(driver.run(doc))["phase"] == "Succeeded"
    phases = {t["taskName"]: t["phase"] for t in driver.engine.get("origin")["tasks"]}
    assert phases == {"main": "Succeeded", "a": "Succeeded", "b": "Failed", "c": "Succeeded", "d": "Succeeded"}

    driver.scripted.outcomes.clear()
    driver.scripted.runs.clear()
    result = cli(db, "retry", "origin")
    assert result.exit_code == 0, result.stderr
    new_id = result.stdout.strip()
    driver.adopt(new_id)
    assert driver.drive(new_id) == "Succeeded"
    assert sorted(driver.scripted.runs) == ["main/b", "main/c"]
    reasons = _dispatch_reasons(driver, new_id)
    assert reasons == {"main/a": ["reuse"], "main/b": ["initial"], "main/c": ["initial"], "main/d": ["reuse"]}
    # The origin offered c; the decider refused it because b ran anew.
    assert "main/c" in driver.engine.get(new_id)["origin"]["reuse"]


def _suspending(name: str, **extra: JSON) -> dict[str, JSON]:
    return {
        "name": name,
        "inputs": {"parameters": [{"name": "suspend", "value": True}]},
        "executor": {"type": "echo"},
        **extra,
    }


BAD = {
    "Failed": ({"name": "bad", "executor": {"type": "scripted"}}, 2),
    "Error": ({"name": "bad", "executor": {"type": "scripted"}}, 3),
    "Timeout": (_suspending("bad", timeout="10s"), 0),
    "Cancelled": (_suspending("bad"), 0),
}


@pytest.mark.parametrize("phase", sorted(BAD))
def test_retry_reruns_a_task_that_ended(db: Path, phase: str) -> None:
    bad, code = BAD[phase]
    doc = scripted_dag([{"name": "good"}, bad, {"name": "next", "dependencies": ["bad", "good"]}])
    driver = Driver.on_sqlite(db, run_ids=["origin", "fork"])
    driver.scripted.outcomes["bad"] = code
    run_id = driver.submit(doc)
    driver.drive(run_id, until_suspended=phase == "Cancelled")
    if phase == "Cancelled":
        driver.engine.cancel(run_id)
        driver.drive(run_id)
    view = driver.engine.get(run_id)
    assert {t["taskName"]: t["phase"] for t in view["tasks"]}["bad"] == phase
    assert view["phase"] != "Succeeded"

    driver.scripted.outcomes.clear()
    driver.scripted.runs.clear()
    new_id = driver.engine.fork(run_id, "retry")
    assert new_id == "fork"
    assert driver.drive(new_id, until_suspended=True) in ("Running", "Succeeded")
    if bad["executor"]["type"] == "echo":
        driver.engine.resume(new_id, "main/bad", {"__resumed": True})
        driver.drive(new_id)
    reasons = _dispatch_reasons(driver, new_id)
    assert reasons["main/good"] == ["reuse"]
    assert reasons["main/bad"][0] == "initial"
    assert reasons["main/next"] == ["initial"]
    assert driver.engine.get(new_id)["phase"] == "Succeeded"
    assert "main/good" not in driver.scripted.runs
    assert set(driver.engine.get(new_id)["origin"]["reuse"]) == {"main/good"}


def test_retry_of_a_loop_reruns_only_the_iteration_that_failed(db: Path) -> None:
    doc = workflow(
        "loop",
        dag("main", dag_task("each", "each")),
        loop("each", "work", items=["x", "boom", "y"], arguments=parameters({"item": "{{iterator.item}}"})),
        task("work", executor("scripted"), inputs=parameters(declared=["item"])),
    )

    driver = Driver.on_sqlite(db, run_ids=["origin", "fork"])
    original = driver.scripted.execute

    def execute(request, ctx):  # type: ignore[no-untyped-def]
        # The scripted executor looks outcomes up by task name; here the item decides.
        item = next(p.value for p in request.inputs if p.name == "item")
        driver.scripted.outcomes["work"] = 2 if item == "boom" and request.run_id == "origin" else 0
        return original(request, ctx)

    driver.scripted.execute = execute  # type: ignore[method-assign]
    run_id = driver.run(doc)
    phases = {t["id"]: t["phase"] for t in driver.engine.get(run_id)["tasks"]}
    assert phases["main/each/loop[1]/work"] == "Failed"
    assert phases["main/each/loop[0]/work"] == phases["main/each/loop[2]/work"] == "Succeeded"

    driver.scripted.runs.clear()
    new_id = driver.engine.fork(run_id, "retry")
    assert driver.drive(new_id) == "Succeeded"
    assert driver.scripted.runs == ["main/each/loop[1]/work"]
    reasons = _dispatch_reasons(driver, new_id)
    assert reasons == {
        "main/each/loop[0]/work": ["reuse"],
        "main/each/loop[1]/work": ["initial"],
        "main/each/loop[2]/work": ["reuse"],
    }


def test_retry_of_a_retry_records_the_chain(db: Path) -> None:
    driver = Driver.on_sqlite(db, run_ids=["first", "second", "third"])
    driver.scripted.outcomes["b"] = 2
    doc = scripted_dag([{"name": "a"}, {"name": "b", "dependencies": ["a"]}])
    first = driver.run(doc)
    second = driver.engine.fork(first, "retry")
    assert driver.drive(second) == "Failed"  # still broken
    driver.scripted.outcomes.clear()
    third = driver.engine.fork(second, "retry")
    assert driver.drive(third) == "Succeeded"
    assert driver.scripted.runs.count("main/a") == 1  # ran in the first run only, reused twice
    assert driver.scripted.runs.count("main/b") == 3
    assert driver.engine.get(second)["origin"]["runId"] == first
    assert driver.engine.get(third)["origin"]["runId"] == second
    outputs = {t["id"]: t["outputs"] for t in driver.engine.get(third)["tasks"]}
    assert outputs["main/a"] == {"from": "main/a"}


def test_retry_of_a_run_that_succeeded_reuses_everything_and_ends_at_once(db: Path) -> None:
    driver = Driver.on_sqlite(db, run_ids=["origin"])
    driver.run(scripted_dag([{"name": "a"}, {"name": "b", "dependencies": ["a"]}]))
    driver.scripted.runs.clear()
    result = cli(db, "retry", "origin")
    assert result.exit_code == 0
    new_id = result.stdout.strip()
    view = cli_json(db, "get", new_id, "--json")
    assert view["phase"] == "Succeeded"  # decided within the submission: nothing to execute
    assert driver.scripted.runs == []
    events = list(Engine(SqliteEventLog(db), workers=0).events(new_id))
    assert [e for _s, e in events if e.KIND == ev.INPUT] == [events[0][1]]
    assert cli(db, "replay", new_id, "--verify").exit_code == 0


# --- reset --to SEQ -------------------------------------------------------------------------


def test_reset_reuses_only_what_had_succeeded_by_that_event(db: Path) -> None:
    driver = Driver.on_sqlite(db, run_ids=["origin"])
    doc = scripted_dag(
        [
            {"name": "a"},
            {"name": "b", "dependencies": ["a"]},
            {"name": "c"},
            {"name": "d", "dependencies": ["b", "c"]},
        ]
    )
    driver.run(doc)
    events = driver.events("origin")
    completed = {
        e.node_id: s
        for s, record in events
        for e in expand(record)
        if isinstance(e, ev.NodeCompleted) and e.phase == "Succeeded"
    }
    at = completed["main/a"]  # the first to succeed: nothing else had by then
    assert at == min(completed.values()) and len(completed) == 5  # four tasks and the DAG

    result = cli(db, "reset", "origin", "--to", str(at))
    assert result.exit_code == 0, result.stderr
    new_id = result.stdout.strip()
    view = cli_json(db, "get", new_id, "--json")
    assert view["origin"]["kind"] == "reset"
    assert view["origin"]["atSeq"] == at
    assert view["origin"]["runId"] == "origin"
    assert sorted(view["origin"]["reuse"]) == ["main/a"]
    before = state_at(iter(events), at)
    assert before is not None
    succeeded_then = {n.node_id for n in before.nodes_in_order() if n.is_leaf and n.phase == "Succeeded"}
    assert succeeded_then == {"main/a"}

    driver.scripted.runs.clear()
    driver.adopt(new_id)
    assert driver.drive(new_id) == "Succeeded"
    assert sorted(driver.scripted.runs) == ["main/b", "main/c", "main/d"]
    assert _dispatch_reasons(driver, new_id)["main/a"] == ["reuse"]
    assert cli(db, "replay", new_id, "--verify").exit_code == 0


def test_reset_to_the_first_event_reuses_nothing(db: Path) -> None:
    driver = Driver.on_sqlite(db, run_ids=["origin", "fresh"])
    driver.run(scripted_dag([{"name": "a"}, {"name": "b", "dependencies": ["a"]}]))
    driver.scripted.runs.clear()
    new_id = driver.engine.fork("origin", "reset", at_seq=1)
    assert driver.engine.get(new_id)["origin"] == {"runId": "origin", "kind": "reset", "reuse": {}, "atSeq": 1}
    assert driver.drive(new_id) == "Succeeded"
    assert sorted(driver.scripted.runs) == ["main/a", "main/b"]


def test_fork_refusals(db: Path) -> None:
    driver = Driver.on_sqlite(db, run_ids=["origin"])
    driver.run(scripted_dag([{"name": "a"}]))
    for args in (["retry", "nope"], ["reset", "nope", "--to", "3"]):
        result = cli(db, *args)
        assert result.exit_code == 2, args
        assert "workflow run nope not found" in result.stderr
    zero = cli(db, "reset", "origin", "--to", "0")
    assert zero.exit_code == 2
    assert [r["runId"] for r in cli_json(db, "list", "--json")] == ["origin"]


def test_reset_past_the_end_is_refused(db: Path) -> None:
    driver = Driver.on_sqlite(db, run_ids=["origin"])
    driver.run(scripted_dag([{"name": "a"}]))
    length = len(driver.events("origin"))
    result = cli(db, "reset", "origin", "--to", str(length + 100))
    assert result.exit_code == 2
    assert [r["runId"] for r in cli_json(db, "list", "--json")] == ["origin"]
