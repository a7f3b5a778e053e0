"""``aether export RUN > run.jsonl`` and ``aether import run.jsonl``: a self-describing
history that another installation can replay, verify and inspect; and every way an import
is refused (exit 2, ``FILE:LINE: why``, nothing written)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from history_support import Driver, cli, cli_json, diamond_with_retry, stored_rows

from aether import __version__
from aether.events import catalog as ev
from aether.events.streams import run_stream
from aether.history.transfer import FORMAT, FORMAT_VERSION, ImportError_, parse_lines

RUN = "moved"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    db = tmp_path / "source.db"
    driver = Driver.on_sqlite(db, run_ids=[RUN])
    assert driver.engine.get(driver.run(diamond_with_retry()))["phase"] == "Succeeded"
    driver.log.close()
    return db


@pytest.fixture
def exported(source: Path, tmp_path: Path) -> Path:
    result = cli(source, "export", RUN)
    assert result.exit_code == 0, result.stderr
    path = tmp_path / "run.jsonl"
    path.write_bytes(result.stdout_bytes)
    return path


def test_export_writes_a_header_then_every_event_as_stored(source: Path, exported: Path) -> None:
    lines = exported.read_bytes().splitlines()
    assert orjson.loads(lines[0]) == {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "aether": __version__,
        "stream": run_stream(RUN),
    }
    rows = stored_rows(source, RUN)
    assert len(lines) == len(rows) + 1
    for line, (version, type_name, data) in zip(lines[1:], rows, strict=True):
        record = orjson.loads(line)
        assert set(record) == {"seq", "type", "schemaVersion", "recordedAt", "data"}
        assert (record["seq"], record["type"], record["schemaVersion"]) == (version, type_name, 1)
        assert orjson.dumps(record["data"]) == data  # the payload bytes, untouched
        assert isinstance(record["recordedAt"], float)


def test_import_into_another_database_replays_verifies_and_shows_the_same_run(
    source: Path, exported: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    result = cli(other, "import", str(exported))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{RUN}\n"

    assert cli_json(other, "get", RUN, "--json") == cli_json(source, "get", RUN, "--json")
    verified = cli(other, "replay", RUN, "--verify")
    assert verified.exit_code == 0 and verified.stdout.startswith(f"verified {len(stored_rows(source, RUN))} events")
    for point in ("7", "23", "2026-03-01T10:00:05Z"):
        assert cli_json(other, "replay", RUN, "--at", point, "--json") == cli_json(
            source, "replay", RUN, "--at", point, "--json"
        )
    assert [r["runId"] for r in cli_json(other, "list", "--json")] == [RUN]
    # The payloads arrive byte for byte; only the commit time is the importing log's.
    assert [(v, t, d) for v, t, d in stored_rows(other, RUN)] == stored_rows(source, RUN)
    again = cli(other, "export", RUN)

    def without_commit_time(text: bytes) -> list[dict]:
        return [{k: v for k, v in orjson.loads(line).items() if k != "recordedAt"} for line in text.splitlines()]

    assert without_commit_time(again.stdout_bytes) == without_commit_time(exported.read_bytes())


def test_import_next_to_other_runs(source: Path, exported: Path, tmp_path: Path) -> None:
    """A database with its own runs takes the imported one beside them."""
    other = tmp_path / "busy.db"
    driver = Driver.on_sqlite(other, run_ids=["local-1"])
    driver.run(diamond_with_retry())
    driver.log.close()
    assert cli(other, "import", str(exported)).exit_code == 0
    assert sorted(r["runId"] for r in cli_json(other, "list", "--json")) == ["local-1", RUN]
    assert cli(other, "replay", "local-1", "--verify").exit_code == 0
    assert cli(other, "replay", RUN, "--verify").exit_code == 0


def test_export_of_a_missing_run(source: Path) -> None:
    result = cli(source, "export", "nope")
    assert result.exit_code == 2
    assert "workflow run nope not found" in result.stderr
    assert result.stdout == ""


# --- refusals -------------------------------------------------------------------------------


def _edit(exported: Path, tmp_path: Path, change: Callable[[list[bytes]], list[bytes]]) -> Path:
    path = tmp_path / "edited.jsonl"
    path.write_bytes(b"\n".join(change(exported.read_bytes().splitlines())) + b"\n")
    return path


def _set(line: int, **fields: object) -> Callable[[list[bytes]], list[bytes]]:
    def change(lines: list[bytes]) -> list[bytes]:
        record = orjson.loads(lines[line - 1])
        record.update(fields)
        lines[line - 1] = orjson.dumps(record)
        return lines

    return change


def _swap(a: int, b: int) -> Callable[[list[bytes]], list[bytes]]:
    def change(lines: list[bytes]) -> list[bytes]:
        lines[a - 1], lines[b - 1] = lines[b - 1], lines[a - 1]
        return lines

    return change


REFUSALS: dict[str, tuple[Callable[[list[bytes]], list[bytes]], str]] = {
    "no header": (lambda lines: lines[1:], r":1: not an Aether history \(no 'aether-history' header\)"),
    "another format": (_set(1, format="something-else"), ":1: not an Aether history"),
    "a newer format": (_set(1, formatVersion=FORMAT_VERSION + 1), ":1: format version 2 is newer than this Aether"),
    "not JSON": (lambda lines: [*lines[:4], b"{oops", *lines[5:]], ":5: not JSON"),
    "a gap in seq": (lambda lines: [*lines[:6], *lines[7:]], r":7: event 7 out of order \(expected 6\)"),
    "swapped events": (_swap(9, 10), r":9: event 9 out of order \(expected 8\)"),
    "a repeated event": (lambda lines: [*lines[:6], lines[5], *lines[6:]], r":7: event 5 out of order \(expected 6\)"),
    "an unknown event type": (_set(4, type="NodeTeleported"), ":4: unknown event type 'NodeTeleported'"),
    "a newer schema version": (_set(6, schemaVersion=9), r":6: \w+ v9 is newer than this Aether understands \(v1\)"),
    "a missing field": (
        lambda lines: [*lines[:2], orjson.dumps({"seq": 2, "type": "TimerArmed"}), *lines[3:]],
        ":3: missing field 'data'",
    ),
    "a payload that does not decode": (_set(3, data={"timerId": "workflow"}), ":3: TimerArmed v1"),
    "not starting with a submission": (
        lambda lines: [lines[0], *[_renumber(line, -1) for line in lines[2:]]],
        ":2: a run history starts with WorkflowSubmitted",
    ),
    "a header only": (lambda lines: lines[:1], ": the history has no events"),
    "an empty file": (lambda lines: [], ": empty file"),
}


def _renumber(line: bytes, by: int) -> bytes:
    record = orjson.loads(line)
    record["seq"] += by
    return orjson.dumps(record)


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_bad_history_is_refused_with_its_line(exported: Path, tmp_path: Path, case: str) -> None:
    change, message = REFUSALS[case]
    path = _edit(exported, tmp_path, change)
    db = tmp_path / "target.db"
    result = cli(db, "import", str(path))
    assert result.exit_code == 2, result.output
    assert re.match(re.escape(f"aether: {path}") + message, result.stderr), result.stderr
    assert result.stdout == ""
    assert not db.exists() or _streams(db) == [], "a refused import writes nothing"


def test_parse_lines_reports_the_same_lines(exported: Path) -> None:
    lines = exported.read_bytes().splitlines()
    lines[6] = b"[1, 2]"
    with pytest.raises(ImportError_, match=r"^f\.jsonl:7: missing field"):
        parse_lines(lines, "f.jsonl")
    # Blank lines are skipped but still counted.
    spaced = [lines[0], b"", *exported.read_bytes().splitlines()[1:]]
    assert len(parse_lines(spaced, "f.jsonl").events) == len(lines) - 1


def test_an_existing_run_is_refused_and_left_alone(source: Path, exported: Path) -> None:
    before = stored_rows(source, RUN)
    result = cli(source, "import", str(exported))
    assert result.exit_code == 2
    assert f"run {RUN} already exists in this log" in result.stderr
    assert stored_rows(source, RUN) == before


def test_an_existing_run_is_refused_with_its_line(source: Path, exported: Path) -> None:
    result = cli(source, "import", str(exported))
    assert result.stderr.startswith(f"aether: {exported}:2: ")


def test_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    result = cli(tmp_path / "x.db", "import", str(tmp_path / "missing.jsonl"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"aether: cannot read {tmp_path / 'missing.jsonl'}")


def test_a_history_that_does_not_fold_is_refused(exported: Path, tmp_path: Path) -> None:
    ghost = {"nodeId": "main/ghost", "fromPhase": "Running", "phase": "Succeeded"}
    path = _edit(exported, tmp_path, _set(6, type="NodeCompleted", data=ghost))
    db = tmp_path / "target.db"
    assert cli(db, "import", str(exported)).exit_code == 0  # the run the database already has
    result = cli(db, "import", str(path))
    try:
        assert result.exit_code == 2
        assert result.stderr.startswith(f"aether: {path}:6: ")
    finally:
        # Whatever import did, the database must stay usable for its other runs.
        listing = cli(db, "list", "--json")
        assert listing.exit_code == 0, repr(listing.exception)
        assert len(orjson.loads(listing.stdout)) == 1


def _streams(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        try:
            return [row[0] for row in conn.execute("SELECT stream FROM streams")]
        except sqlite3.OperationalError:
            return []


def test_events_keep_their_kind_across_the_move(exported: Path) -> None:
    history = parse_lines(exported.read_bytes().splitlines())
    assert history.run_id == RUN and history.stream == run_stream(RUN)
    assert history.events[0].type == "WorkflowSubmitted"
    assert {e.type for e in history.events} <= set(ev.EVENT_TYPES)
