"""``aether replay RUN --verify`` and ``verify_run`` (ARCHITECTURE rule 2): replaying the
recorded inputs through ``decide`` reproduces every recorded decision; an altered, missing
or extra decision is named with what ``decide`` expects and what the log holds."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import orjson
import pytest
from history_support import Driver, cli, diamond_with_retry, rewrite_event, stored_rows
from support.commands import aether_command

from aether.events import catalog as ev
from aether.events.catalog import INPUT
from aether.history.verify import verify_run
from aether.store.memory import InMemoryEventLog

pytestmark = pytest.mark.spec("1.3")

RUN = "verify-me"


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    """A finished run (``RUN``) in a SQLite file."""
    db = tmp_path / "aether.db"
    driver = Driver.on_sqlite(db, run_ids=[RUN])
    assert driver.engine.get(driver.run(diamond_with_retry()))["phase"] == "Succeeded"
    driver.log.close()
    return db


def _last(db: Path, type_name: str) -> tuple[int, dict]:
    rows = [(version, orjson.loads(data)) for version, t, data in stored_rows(db, RUN) if t == type_name]
    if type_name == "TaskResultReported":  # one that carries its recorded result (SPEC §6.6.1)
        rows = [(version, data) for version, data in rows if "recorded" in data]
    assert rows, f"the run has no {type_name}"
    return rows[-1]


def test_verify_passes_and_says_how_many_events(recorded: Path) -> None:
    rows = stored_rows(recorded, RUN)
    inputs = sum(1 for _v, t, _d in rows if ev.EVENT_TYPES[t].KIND == INPUT)
    result = cli(recorded, "replay", RUN, "--verify")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == (
        f"verified {len(rows)} events ({inputs} inputs): every decision replays identically"
    )
    assert len(rows) > 20 and inputs > 10  # a run with something to check


# Each edit keeps the payload decodable, so only the comparison with decide can catch it.
EDITS = {
    # A decision the input's record carries (SPEC §6.6.1).
    "TaskResultReported": lambda d: {**d, "recorded": {**d["recorded"], "phase": "Failed"}},
    "NodeCompleted": lambda d: {**d, "message": "tampered"},
    "TaskDispatched": lambda d: {**d, "assignment": {**d["assignment"], "priority": 1}},
    "PhaseChanged": lambda d: {**d, "toPhase": "Running" if d["toPhase"] != "Running" else "Ready"},
    "NodeCreated": lambda d: {**d, "taskName": "renamed"},
    "RetryScheduled": lambda d: {**d, "delayMs": 5000},
    "WorkflowCompleted": lambda d: {**d, "phase": "Failed"},
    "InputsBound": lambda d: {**d, "parameters": []},
}


@pytest.mark.parametrize("type_name", sorted(EDITS))
def test_an_altered_decision_in_the_log_is_named(recorded: Path, type_name: str) -> None:
    version, data = _last(recorded, type_name)
    altered = EDITS[type_name](data)
    assert altered != data
    rewrite_event(recorded, RUN, version, orjson.dumps(altered))

    result = cli(recorded, "replay", RUN, "--verify")

    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"non-determinism at event {version} (decision for input ")
    assert lines[1].startswith(f"  expected: {type_name} ")
    assert lines[2].startswith(f"  recorded: {type_name} ")
    # The two sides show the original and the altered payload.
    assert lines[1] != lines[2]
    assert "verified" not in result.stdout


def test_the_first_of_two_altered_decisions_is_named(recorded: Path) -> None:
    first, data1 = _last(recorded, "TaskResultReported")
    later, data2 = _last(recorded, "WorkflowCompleted")
    assert first < later
    rewrite_event(recorded, RUN, later, orjson.dumps({**data2, "message": "x"}))
    rewrite_event(recorded, RUN, first, orjson.dumps({**data1, "recorded": {**data1["recorded"], "message": "y"}}))
    result = cli(recorded, "replay", RUN, "--verify")
    assert result.exit_code == 1
    assert f"non-determinism at event {first} " in result.stderr


def test_an_altered_input_is_caught_at_the_first_decision_it_changes(recorded: Path) -> None:
    """A worker report edited from success to failure: decide now records a failure, which
    the report's own record does not carry (SPEC §6.6.1)."""
    rows = stored_rows(recorded, RUN)
    version, data = next(
        (v, orjson.loads(d)) for v, t, d in rows if t == "TaskResultReported" and orjson.loads(d)["nodeId"] == "main/d"
    )
    rewrite_event(recorded, RUN, version, orjson.dumps({**data, "code": 2, "message": "broken"}))
    result = cli(recorded, "replay", RUN, "--verify")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"non-determinism at event {version} (decision for input {version}):")
    expected, held = result.stderr.splitlines()[1:3]
    assert expected.startswith("  expected: TaskResultReported") and "'phase': 'Failed'" in expected
    assert held.startswith("  recorded: TaskResultReported") and "'phase': 'Succeeded'" in held


def test_an_altered_decision_in_an_exported_file_is_refused_unless_forced(recorded: Path, tmp_path: Path) -> None:
    exported = cli(recorded, "export", RUN)
    assert exported.exit_code == 0
    lines = exported.stdout_bytes.splitlines()
    version, data = _last(recorded, "NodeCompleted")
    record = orjson.loads(lines[version])  # line 1 is the header: event N is lines[N]
    assert record["seq"] == version and record["type"] == "NodeCompleted"
    record["data"] = {**data, "phase": "Failed"}
    lines[version] = orjson.dumps(record)
    edited = tmp_path / "edited.jsonl"
    edited.write_bytes(b"\n".join(lines) + b"\n")

    other = tmp_path / "other.db"
    refused = cli(other, "import", str(edited))
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr.startswith(f"non-determinism at event {version} ")
    assert "recorded: NodeCompleted" in refused.stderr and "'phase': 'Failed'" in refused.stderr
    assert "was not imported" in refused.stderr and "--no-verify" in refused.stderr
    assert not other.exists()  # nothing imported: not even the database was created

    forced = cli(other, "import", str(edited), "--no-verify")
    assert forced.exit_code == 0, forced.stderr
    assert forced.stdout.strip() == RUN
    assert f"imported {RUN} unverified: non-determinism at event {version} " in forced.stderr
    result = cli(other, "replay", RUN, "--verify")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"non-determinism at event {version} ")
    assert "recorded: NodeCompleted" in result.stderr and "'phase': 'Failed'" in result.stderr
    for flags in ([], ["--json"]):
        shown = cli(other, "get", RUN, *flags)
        assert shown.exit_code == 0, shown.stderr
        assert shown.stderr.startswith(f"warning: run {RUN} was imported from {edited} at ")
        assert f"without verification, and its history does not replay (non-determinism at event {version} " in (
            shown.stderr
        )


def test_a_verified_import_leaves_no_warning(recorded: Path, tmp_path: Path) -> None:
    exported = tmp_path / "run.jsonl"
    exported.write_bytes(cli(recorded, "export", RUN).stdout_bytes)
    other = tmp_path / "other.db"
    imported = cli(other, "import", str(exported))
    assert (imported.exit_code, imported.stdout.strip(), imported.stderr) == (0, RUN, "")
    shown = cli(other, "get", RUN)
    assert shown.exit_code == 0 and shown.stderr == ""


def test_the_aether_command_exits_0_then_1_after_one_edit(recorded: Path, tmp_path: Path) -> None:
    """The installed entry point, not just the typer app: exit codes and streams."""
    aether = aether_command()
    db = tmp_path / "copy.db"
    shutil.copy(recorded, db)
    ok = subprocess.run(
        [*aether, "replay", RUN, "--verify", "--db", str(db)], capture_output=True, text=True, timeout=120
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("verified ")
    version, data = _last(db, "TaskResultReported")
    rewrite_event(db, RUN, version, orjson.dumps({**data, "recorded": {**data["recorded"], "phase": "Suspended"}}))
    bad = subprocess.run(
        [*aether, "replay", RUN, "--verify", "--db", str(db)], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith(f"non-determinism at event {version} ")
    assert bad.stdout == ""


@pytest.mark.parametrize("payload", [b'{"nodeId": "main/b", "parameters": 7}', b"not json"])
def test_an_undecodable_event_is_named_not_a_traceback(recorded: Path, payload: bytes) -> None:
    version, _data = _last(recorded, "InputsBound")
    rewrite_event(recorded, RUN, version, payload)
    result = cli(recorded, "replay", RUN, "--verify")
    assert result.exit_code in (1, 2)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert f"event {version}" in result.stderr


def test_a_run_that_does_not_exist(tmp_path: Path, recorded: Path) -> None:
    result = cli(recorded, "replay", "nope", "--verify")
    assert result.exit_code == 2
    assert "workflow run nope not found" in result.stderr
    missing = cli(tmp_path / "none.db", "replay", RUN, "--verify")
    assert missing.exit_code == 2 and "no database" in missing.stderr


# --- verify_run itself ----------------------------------------------------------------------


@pytest.fixture
def events() -> list[tuple[int, ev.Event]]:
    memory = Driver(InMemoryEventLog(), run_ids=[RUN])
    return memory.events(memory.run(diamond_with_retry()))


def _renumber(events: list[ev.Event]) -> list[tuple[int, ev.Event]]:
    return list(enumerate(events, start=1))


def test_verify_run_counts_events_and_inputs(events: list[tuple[int, ev.Event]]) -> None:
    result = verify_run(events)
    assert result.ok and result.mismatch is None
    assert result.events == len(events)
    assert result.inputs == sum(1 for _s, e in events if e.KIND == INPUT)


def test_a_missing_decision_is_reported_as_expected_but_not_recorded(events: list[tuple[int, ev.Event]]) -> None:
    last_seq, last = events[-1]
    assert isinstance(last, ev.WorkflowCompleted)
    result = verify_run(events[:-1])
    assert result.mismatch is not None
    assert result.mismatch.seq == last_seq
    assert result.mismatch.expected == last and result.mismatch.recorded is None
    assert "recorded: nothing" in result.mismatch.describe()


def test_a_missing_decision_in_the_middle(events: list[tuple[int, ev.Event]]) -> None:
    index = next(i for i, (_s, e) in enumerate(events) if isinstance(e, ev.RetryScheduled))
    plain = [e for _s, e in events]
    removed = plain[index]
    result = verify_run(_renumber(plain[:index] + plain[index + 1 :]))
    assert result.mismatch is not None
    assert result.mismatch.seq == index + 1  # the event that now sits where it was
    assert result.mismatch.expected == removed


def test_an_extra_decision_is_reported_as_recorded_but_not_expected(events: list[tuple[int, ev.Event]]) -> None:
    plain = [e for _s, e in events]
    extra = ev.PhaseChanged(None, "Succeeded", "Failed", "injected")
    result = verify_run(_renumber([*plain, extra]))
    assert result.mismatch is not None
    assert result.mismatch.seq == len(plain) + 1
    assert result.mismatch.expected is None and result.mismatch.recorded == extra
    assert "expected: nothing" in result.mismatch.describe()


def test_swapped_decisions_are_a_mismatch(events: list[tuple[int, ev.Event]]) -> None:
    plain = [e for _s, e in events]
    i = next(
        i
        for i in range(1, len(plain))
        if plain[i].KIND != INPUT and plain[i + 1].KIND != INPUT and plain[i] != plain[i + 1]
    )
    plain[i], plain[i + 1] = plain[i + 1], plain[i]
    result = verify_run(_renumber(plain))
    assert result.mismatch is not None and result.mismatch.seq == i + 1


def test_a_decision_before_any_input_is_refused(events: list[tuple[int, ev.Event]]) -> None:
    plain = [e for _s, e in events]
    with pytest.raises(ValueError, match="decision with no input before it"):
        verify_run(_renumber(plain[1:]))


# --- a missing event is a gap, not non-determinism ---------------------------------------------


def test_a_missing_version_is_a_gap_at_that_version(events: list[tuple[int, ev.Event]]) -> None:
    index = next(i for i, (_s, e) in enumerate(events) if isinstance(e, ev.RetryScheduled))
    missing = events[index][0]
    result = verify_run(events[:index] + events[index + 1 :])
    assert result.mismatch is not None
    assert (result.mismatch.kind, result.mismatch.seq) == ("gap", missing)
    assert result.mismatch.describe() == (
        f"gap at event {missing}: the history has no event {missing} (the next event it holds is {missing + 1})"
    )


def test_a_missing_input_is_a_gap_too(events: list[tuple[int, ev.Event]]) -> None:
    index = next(i for i, (_s, e) in enumerate(events) if i > 0 and e.KIND == INPUT)
    result = verify_run(events[:index] + events[index + 1 :])
    assert result.mismatch is not None
    assert (result.mismatch.kind, result.mismatch.seq) == ("gap", events[index][0])


def test_a_missing_first_event_is_a_gap_at_1(events: list[tuple[int, ev.Event]]) -> None:
    result = verify_run(events[1:])
    assert result.mismatch is not None
    assert (result.mismatch.kind, result.mismatch.seq) == ("gap", 1)


def test_a_difference_before_a_gap_is_reported_first(events: list[tuple[int, ev.Event]]) -> None:
    plain = [e for _s, e in events]
    plain.append(ev.PhaseChanged(None, "Succeeded", "Failed", "injected"))
    numbered = _renumber(plain)
    last_input = max(i for i, (_s, e) in enumerate(numbered) if e.KIND == INPUT)
    tampered = next(i for i in range(len(numbered)) if i < last_input and numbered[i][1].KIND != INPUT)
    seq, _event = numbered[tampered]
    numbered[tampered] = (seq, ev.PhaseChanged(None, "Running", "Failed", "tampered"))
    result = verify_run(numbered[:-2] + numbered[-1:])
    assert result.mismatch is not None
    assert (result.mismatch.kind, result.mismatch.seq) == ("non-determinism", seq)


def test_the_cli_names_a_deleted_row_as_a_gap(recorded: Path) -> None:
    version, _data = _last(recorded, "RetryScheduled")
    with sqlite3.connect(recorded) as conn:
        conn.execute("DELETE FROM events WHERE stream = ? AND version = ?", (f"run:{RUN}", version))
    result = cli(recorded, "replay", RUN, "--verify")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"gap at event {version}: ")
    as_json = cli(recorded, "replay", RUN, "--verify", "--json")
    assert as_json.exit_code == 1
    assert orjson.loads(as_json.stdout)["mismatch"] == {"kind": "gap", "seq": version, "nextSeq": version + 1}


# --- --json and the choice of one mode ---------------------------------------------------------


def test_verify_json_prints_json(recorded: Path) -> None:
    result = cli(recorded, "replay", RUN, "--verify", "--json")
    assert result.exit_code == 0, result.stderr
    report = orjson.loads(result.stdout)
    assert report["verified"] is True and report["mismatch"] is None
    assert report["events"] == len(stored_rows(recorded, RUN)) and report["inputs"] > 10


def test_verify_json_names_the_differing_event(recorded: Path) -> None:
    version, data = _last(recorded, "NodeCompleted")
    rewrite_event(recorded, RUN, version, orjson.dumps({**data, "message": "tampered"}))
    result = cli(recorded, "replay", RUN, "--verify", "--json")
    assert result.exit_code == 1
    mismatch = orjson.loads(result.stdout)["mismatch"]
    assert mismatch["kind"] == "non-determinism" and mismatch["seq"] == version
    assert mismatch["recorded"]["type"] == "NodeCompleted" and mismatch["recorded"]["data"]["message"] == "tampered"


@pytest.mark.parametrize("others", [["--at", "5"], ["--diff", "1", "5"]])
def test_verify_with_another_mode_is_an_error(recorded: Path, others: list[str]) -> None:
    result = cli(recorded, "replay", RUN, "--verify", *others)
    assert result.exit_code == 2
    assert "cannot be combined" in result.stderr and result.stdout == ""
