"""Several ``aether serve`` processes on one database: every execution owned, fenced and
recorded (ARCHITECTURE rules 4 and 6). Real processes, real shell tasks, real signals.

- Two serves share the runs of one database and execute each task exactly once.
- When one is SIGKILLed, its task processes die with it, and the other takes its runs over
  within about a housekeeping round: the executions that died are recorded as lost and
  run again under their next attempt numbers.
- A serve stopped with SIGTERM records the task it interrupted as lost, so the next serve
  runs the next attempt at once instead of waiting for the lease to expire.
- A serve paused past its lease is taken over once the lease expires; when it wakes up it
  is fenced: it records nothing more and exits.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from ownership_support import (
    Recorded,
    Serve,
    alive,
    coordination_rows,
    executions,
    final_phase,
    finished,
    history,
    of_type,
    open_starts,
    owners,
    record_execution,
    recorded_task,
    serves,
    submit_all,
    verify_replays,
    wait_for,
    write_workflow,
)
from support.documents import dag_task, executor

from aether.events import catalog as ev

pytestmark = pytest.mark.spec("6.3", "15")

RUNS = 4
WORKERS = 4
LEASE = ("--lease", "2s")


def twelve_tasks(executions_file: Path) -> list[dict[str, object]]:
    """A DAG of a dozen short tasks: a fan-out of four, two joins, a chain and an end."""

    def step(name: str, seconds: float, *dependencies: str) -> dict[str, object]:
        return recorded_task(name, executions_file, seconds, dependencies)

    return [
        step("start", 0.1),
        step("p1", 0.2, "start"),
        step("p2", 0.3, "start"),
        step("p3", 0.1, "start"),
        step("p4", 0.2, "start"),
        step("j1", 0.1, "p1", "p2"),
        step("j2", 0.2, "p3", "p4"),
        step("c1", 0.1, "j1"),
        step("c2", 0.3, "c1"),
        step("c3", 0.1, "j2"),
        step("merge", 0.2, "c2", "c3"),
        step("end", 0.1, "merge"),
    ]


@pytest.mark.timeout(120)
def test_two_serves_share_the_runs_and_execute_every_task_once(tmp_path: Path) -> None:
    db, executions_file = tmp_path / "aether.db", tmp_path / "executions"
    documents = [
        write_workflow(tmp_path / f"flow-{i}.json", f"shared-{i}", *twelve_tasks(executions_file)) for i in range(RUNS)
    ]
    with serves() as started:
        for name in ("a", "b"):
            started.append(Serve(db, name, "--workers", str(WORKERS), *LEASE))
        for serve in started:
            serve.wait_ready(db)
        run_ids = submit_all(db, documents)
        assert wait_for(lambda: all(finished(db, run_id) for run_id in run_ids), 60.0), [
            final_phase(db, run_id) for run_id in run_ids
        ]
        for serve in started:
            serve.proc.terminate()
        for serve in started:
            assert serve.exit_code() == 0, serve.stderr()

    assert {run_id: final_phase(db, run_id) for run_id in run_ids} == dict.fromkeys(run_ids, "Succeeded")
    done = executions(executions_file)
    per_task = Counter((e.run_id, e.node_id, e.attempt) for e in done)
    expected = {(run_id, task["name"], 1) for run_id in run_ids for task in twelve_tasks(executions_file)}
    assert {(run_id, node.removeprefix("main/"), n) for run_id, node, n in per_task} == expected
    assert [identity for identity, count in per_task.items() if count != 1] == [], "executed more than once"

    starts = {run_id: of_type(history(db, run_id), ev.TaskStarted) for run_id in run_ids}
    for run_id, recorded in starts.items():
        assert sorted((e.node_id, e.attempt) for e in recorded) == sorted(
            (f"main/{task['name']}", 1) for task in twelve_tasks(executions_file)
        ), f"run {run_id}: one start per task"
        assert of_type(history(db, run_id), ev.AttemptLost) == []

    # Both serves did some of the work: by the workers that recorded the starts, and by the
    # environment the task processes inherited.
    by_serve = {
        serve.name: sorted(run_id for run_id, recorded in starts.items() if any(serve.started(e) for e in recorded))
        for serve in started
    }
    assert all(by_serve.values()), f"runs started per serve: {by_serve}"
    assert {e.serve for e in done} == {"a", "b"}
    # A run is driven by one serve at a time: here, by one serve from start to end.
    for run_id, recorded in starts.items():
        assert sum(1 for serve in started if any(serve.started(e) for e in recorded)) == 1, run_id
    print(f"\nruns per serve: { {name: len(runs) for name, runs in by_serve.items()} }")


TAKEOVER_BOUND = 10.0  # seconds; the lease is 2 s and a dead process on this machine is seen at once


def gated_tasks_then_one(executions_file: Path, gate: Path) -> list[dict[str, object]]:
    """Two tasks that run until ``gate`` exists (half a minute at most), then a short one.
    The gate holds every execution still at the kill, so that it cannot fall between the
    line a task writes first and the commit of its ``TaskStarted``."""

    def gated(name: str) -> dict[str, object]:
        command = (
            f"{record_execution(executions_file)}; for _ in $(seq 600); do [ -e {gate} ] && break; sleep 0.05; done"
        )
        return dag_task(name, executor=executor("shell", command=command))

    return [gated("a"), gated("b"), recorded_task("c", executions_file, 0.2, ["a", "b"])]


def every_worker_waits_at_the_gate(db: Path, executions_file: Path, started: list[Serve], run_ids: list[str]) -> bool:
    """Every run is leased, each serve runs as many gated tasks as its runs and its four
    workers allow, and every execution so far has its start recorded: nothing can start
    until the gate opens."""
    leases = owners(db)
    if sorted(leases) != sorted(run_ids):
        return False
    recorded = {run_id: history(db, run_id) for run_id in run_ids}
    running = [e for rs in recorded.values() for e in open_starts(rs)]
    for serve in started:
        runs = sum(1 for owner in leases.values() if owner == serve.member_id)
        if sum(1 for e in running if serve.started(e)) != min(WORKERS, 2 * runs):
            return False
    starts = {(run_id, e.node_id, e.attempt) for run_id, rs in recorded.items() for e in of_type(rs, ev.TaskStarted)}
    return all(e.identity in starts for e in executions(executions_file))


def first_takeover_event(recorded: list[Recorded], survivor: Serve, after: float) -> float | None:
    """When the survivor first acted on a run: the first ``AttemptLost`` (only a live
    member records one), or its workers' first ``TaskStarted``, recorded after ``after``."""
    times = [
        r.recorded_at
        for r in recorded
        if r.recorded_at >= after
        and (isinstance(r.event, ev.AttemptLost) or (isinstance(r.event, ev.TaskStarted) and survivor.started(r.event)))
    ]
    return min(times, default=None)


@pytest.mark.spec("14.3")
@pytest.mark.timeout(120)
def test_a_killed_serve_loses_its_tasks_and_the_other_takes_its_runs_over(tmp_path: Path) -> None:
    db, executions_file = tmp_path / "aether.db", tmp_path / "executions"
    gate = tmp_path / "gate"
    documents = [
        write_workflow(tmp_path / f"flow-{i}.json", f"killed-{i}", *gated_tasks_then_one(executions_file, gate))
        for i in range(RUNS)
    ]
    with serves() as started:
        for name in ("a", "b"):
            started.append(Serve(db, name, "--workers", str(WORKERS), *LEASE))
        for serve in started:
            serve.wait_ready(db)
        run_ids = submit_all(db, documents)
        assert wait_for(lambda: every_worker_waits_at_the_gate(db, executions_file, started, run_ids), 30.0, 0.05)
        # The serve holding the most runs dies; the other takes them over.
        leases = owners(db)
        victim = max(started, key=lambda serve: sum(1 for owner in leases.values() if owner == serve.member_id))
        (survivor,) = [serve for serve in started if serve is not victim]
        victim_member = victim.member_id
        owned = sorted(run_id for run_id, owner in leases.items() if owner == victim_member)

        killed_at = time.time()
        os.kill(victim.pid, signal.SIGKILL)  # the serve only, not its process group
        # Reaped at once, as a supervisor would: a zombie still counts as a running process.
        assert victim.exit_code() == -signal.SIGKILL

        orphans = [e.pid for e in executions(executions_file) if e.serve == victim.name]
        assert wait_for(lambda: not any(alive(pid) for pid in orphans), 5.0), "task processes outlived their serve"
        gate.touch()
        assert wait_for(lambda: all(finished(db, run_id) for run_id in run_ids), 60.0), survivor.stderr()
        survivor.proc.terminate()
        assert survivor.exit_code() == 0, survivor.stderr()

    assert owned, "the killed serve held no run"
    assert {run_id: final_phase(db, run_id) for run_id in run_ids} == dict.fromkeys(run_ids, "Succeeded")
    recorded = {run_id: history(db, run_id) for run_id in run_ids}

    # Every execution is a distinct attempt, and every one of them was recorded as started.
    done = executions(executions_file)
    per_attempt = Counter(e.identity for e in done)
    assert [identity for identity, count in per_attempt.items() if count > 1] == [], "an attempt executed twice"
    starts = {(run_id, e.node_id, e.attempt): e for run_id, rs in recorded.items() for e in of_type(rs, ev.TaskStarted)}
    assert [identity for identity in per_attempt if identity not in starts] == [], "executed without a recorded start"
    assert len(starts) == len(per_attempt), "a recorded start without an execution"

    # What the killed serve was running is lost, with the claims of its workers; each loss
    # is followed by the next attempt, run by the survivor.
    lost = {(run_id, e.node_id, e.attempt): e for run_id, rs in recorded.items() for e in of_type(rs, ev.AttemptLost)}
    results = {
        (run_id, e.node_id, e.attempt) for run_id, rs in recorded.items() for e in of_type(rs, ev.TaskResultReported)
    }
    interrupted = {e.identity for e in done if e.serve == victim.name and e.identity not in results}
    assert interrupted, "the killed serve was running nothing"
    assert set(lost) == interrupted
    for (run_id, node_id, attempt), loss in lost.items():
        assert run_id in owned
        assert loss.reason in ("claim-expired", "engine-stopped"), loss
        assert victim.started(starts[(run_id, node_id, attempt)])
        if loss.reason == "claim-expired":
            assert (loss.owner_id, loss.worker_id) == (victim_member, starts[(run_id, node_id, attempt)].worker_id)
        (again,) = [
            e for e in of_type(recorded[run_id], ev.TaskDispatched) if e.node_id == node_id and e.attempt > attempt
        ]
        assert (again.attempt, again.reason) == (attempt + 1, "lost")
        assert survivor.started(starts[(run_id, node_id, attempt + 1)])
        assert per_attempt[(run_id, node_id, attempt + 1)] == 1

    verified = verify_replays(db, run_ids)
    assert {run_id: code for run_id, (code, _out) in verified.items()} == dict.fromkeys(run_ids, 0), verified

    takeovers = [first_takeover_event(recorded[run_id], survivor, killed_at) for run_id in owned]
    assert None not in takeovers, "the survivor never acted on a run of the killed serve"
    takeover = min(t for t in takeovers if t is not None) - killed_at
    print(f"\ntakeover after SIGKILL: {takeover:.2f} s ({len(owned)} runs, {len(lost)} attempts lost)")
    assert takeover < TAKEOVER_BOUND, f"took {takeover:.2f} s to take over after the SIGKILL"


# Seconds from the second serve's start: a third of the first serve's lease, with room for
# a loaded machine.
NEXT_ATTEMPT_BOUND = 10.0


@pytest.mark.spec("14.1", "14.3")
@pytest.mark.timeout(120)
def test_a_serve_stopped_mid_task_records_the_loss_so_the_next_serve_runs_the_next_attempt_at_once(
    tmp_path: Path,
) -> None:
    db, executions_file = tmp_path / "aether.db", tmp_path / "executions"
    # The first attempt would run for a minute; any later one ends at once.
    command = f'{record_execution(executions_file)}; if [ "$AETHER_ATTEMPT" = 1 ]; then sleep 60; fi'
    document = write_workflow(
        tmp_path / "flow.json", "stopped", dag_task("work", executor=executor("shell", command=command))
    )
    with serves() as started:
        # A lease far longer than the bound below: a second serve that had to wait for it
        # to expire would start the next attempt far too late.
        first = Serve(db, "first", "--workers", "2", "--lease", "30s", "--grace", "0s")
        started.append(first)
        first.wait_ready(db)
        first_member = first.member_id
        (run_id,) = submit_all(db, [document])
        assert wait_for(lambda: any(e.attempt == 1 for e in open_starts(history(db, run_id)))), first.stderr()
        # The start is reported as the process starts; its first command may not have run yet.
        assert wait_for(lambda: len(executions(executions_file)) == 1), first.stderr()
        (execution,) = executions(executions_file)

        first.proc.terminate()
        assert first.exit_code() == 0, first.stderr()
        assert "terminated the tasks still running" in first.stderr()
        assert wait_for(lambda: not alive(execution.pid), 5.0), "the interrupted task outlived its serve"

        recorded = history(db, run_id)
        (start,) = of_type(recorded, ev.TaskStarted)
        (loss,) = of_type(recorded, ev.AttemptLost)
        assert (loss.node_id, loss.attempt, loss.reason) == ("main/work", 1, "worker-stopped")
        assert (loss.owner_id, loss.worker_id) == (first_member, start.worker_id)
        assert first.started(start)
        assert of_type(recorded, ev.TaskResultReported) == []
        assert first_member not in {member for (member,) in coordination_rows(db, "SELECT member_id FROM members")}

        second = Serve(db, "second", "--workers", "2", *LEASE)
        started.append(second)
        second.wait_ready(db)
        assert wait_for(lambda: finished(db, run_id), 30.0), second.stderr()
        second.proc.terminate()
        assert second.exit_code() == 0, second.stderr()

    assert final_phase(db, run_id) == "Succeeded"
    recorded = history(db, run_id)
    starts = of_type(recorded, ev.TaskStarted)
    assert [(e.attempt, first.started(e), second.started(e)) for e in starts] == [(1, True, False), (2, False, True)]
    dispatches = [(e.attempt, e.reason) for e in of_type(recorded, ev.TaskDispatched)]
    assert dispatches == [(1, "initial"), (2, "lost")]
    assert [(e.attempt, e.serve) for e in executions(executions_file)] == [(1, "first"), (2, "second")]
    (second_start,) = [r.recorded_at for r in recorded if isinstance(r.event, ev.TaskStarted) and r.event.attempt == 2]
    waited = second_start - second.joined_ms / 1000
    print(f"\nnext attempt started {waited:.2f} s after the second serve joined")
    assert waited < NEXT_ATTEMPT_BOUND, f"the second serve started attempt 2 only {waited:.2f} s after it joined"


@pytest.mark.spec("14.3")
@pytest.mark.timeout(120)
def test_a_serve_paused_past_its_lease_is_fenced_and_records_nothing_more(tmp_path: Path) -> None:
    db, executions_file, gate = tmp_path / "aether.db", tmp_path / "executions", tmp_path / "gate"
    # The first attempt runs until the gate opens; any later one ends at once.
    command = (
        f"{record_execution(executions_file)}; "
        f'if [ "$AETHER_ATTEMPT" = 1 ]; then for _ in $(seq 600); do [ -e {gate} ] && break; sleep 0.05; done; fi'
    )
    document = write_workflow(
        tmp_path / "flow.json", "paused", dag_task("work", executor=executor("shell", command=command))
    )
    with serves() as started:
        paused = Serve(db, "paused", "--workers", "2", *LEASE)
        started.append(paused)
        paused.wait_ready(db)
        (run_id,) = submit_all(db, [document])
        assert wait_for(lambda: any(e.attempt == 1 for e in open_starts(history(db, run_id)))), paused.stderr()
        other = Serve(db, "other", "--workers", "2", *LEASE)
        started.append(other)
        other.wait_ready(db)

        paused_at = time.time()
        os.kill(paused.pid, signal.SIGSTOP)  # alive, but it renews nothing: its lease expires
        assert wait_for(lambda: finished(db, run_id), 30.0), other.stderr()
        ended = len(history(db, run_id))
        # The paused serve's task goes on meanwhile; it ends, then the serve wakes up.
        gate.touch()
        (first,) = [e for e in executions(executions_file) if e.attempt == 1]
        assert wait_for(lambda: not alive(first.pid), 10.0)
        os.kill(paused.pid, signal.SIGCONT)
        assert paused.exit_code() == 1, paused.stderr()
        assert "paused past its lease" in paused.stderr()
        other.proc.terminate()
        assert other.exit_code() == 0, other.stderr()

    recorded = history(db, run_id)
    assert len(recorded) == ended, f"appended after the run ended: {[r.event for r in recorded[ended:]]}"
    assert final_phase(db, run_id) == "Succeeded"
    (loss,) = of_type(recorded, ev.AttemptLost)
    assert (loss.attempt, loss.reason, loss.owner_id) == (1, "claim-expired", paused.member_id)
    assert [(e.attempt, paused.started(e), other.started(e)) for e in of_type(recorded, ev.TaskStarted)] == [
        (1, True, False),
        (2, False, True),
    ]
    assert [(e.attempt, e.code) for e in of_type(recorded, ev.TaskResultReported)] == [(2, 0)]
    assert [(e.attempt, e.serve) for e in executions(executions_file)] == [(1, "paused"), (2, "other")]
    (lost_at,) = [r.recorded_at for r in recorded if isinstance(r.event, ev.AttemptLost)]
    print(f"\ntakeover after SIGSTOP (by lease expiry): {lost_at - paused_at:.2f} s")
    assert lost_at - paused_at < TAKEOVER_BOUND
