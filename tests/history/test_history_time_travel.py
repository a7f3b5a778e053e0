"""``aether replay RUN --at SEQ|TIME`` and ``--diff A B``: a run as it stood at any point
of its history, and what changed between two points."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from history_support import STEP, T0, Driver, cli, cli_json, diamond_with_retry

from aether.events import catalog as ev
from aether.events.compaction import expand
from aether.events.streams import run_stream
from aether.events.times import format_ms, parse_ms
from aether.history.time_travel import diff_views, seq_at_time, state_at
from aether.history.transfer import parse_lines
from aether.projections.views import run_view
from aether.runtime.engine import Engine
from aether.store.history_import import import_history
from aether.store.memory import InMemoryEventLog
from aether.store.sqlite import SqliteEventLog

pytestmark = pytest.mark.spec("6.6")

RUN = "travel"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("travel") / "aether.db"
    driver = Driver.on_sqlite(db, run_ids=[RUN])
    assert driver.engine.get(driver.run(diamond_with_retry()))["phase"] == "Succeeded"
    driver.log.close()
    return db


@pytest.fixture(scope="module")
def events(recorded: Path) -> list[tuple[int, ev.Event]]:
    log = SqliteEventLog(recorded)
    try:
        return list(Engine(log, workers=0).events(RUN))
    finally:
        log.close()


def fine_grained(events: list[tuple[int, ev.Event]]) -> list[tuple[int, ev.Event]]:
    """Each recorded event as the fine-grained events it stands for (SPEC §6.6.1), at its seq."""
    return [(seq, fine) for seq, event in events for fine in expand(event)]


@pytest.fixture(scope="module")
def export(recorded: Path) -> list[bytes]:
    result = cli(recorded, "export", RUN)
    assert result.exit_code == 0
    return result.stdout_bytes.splitlines()


def truncated_view(export: list[bytes], n: int) -> dict:
    """The view of a log that holds only the first ``n`` events of the run."""
    log = InMemoryEventLog()
    run_id = import_history(log, parse_lines(export[: n + 1]))
    return Engine(log, workers=0).get(run_id)


def test_at_every_event_number_equals_the_view_of_the_log_truncated_there(recorded: Path, export: list[bytes]) -> None:
    total = len(export) - 1
    assert total > 20
    views = []
    for n in range(1, total + 1):
        view = cli_json(recorded, "replay", RUN, "--at", str(n), "--json")
        assert view == truncated_view(export, n), f"--at {n}"
        views.append(view)
    assert views[-1] == cli_json(recorded, "get", RUN, "--json")
    assert len({orjson.dumps(v) for v in views}) > total // 2  # most events change what the view shows


def test_at_a_number_past_the_end_is_the_final_view(recorded: Path, export: list[bytes]) -> None:
    final = cli_json(recorded, "get", RUN, "--json")
    assert cli_json(recorded, "replay", RUN, "--at", str(len(export) + 50), "--json") == final


def _input_times(events: list[tuple[int, ev.Event]]) -> list[tuple[int, int]]:
    """(seq of the last event answering the input, the input's time in ms), per input."""
    out: list[tuple[int, int]] = []
    for seq, event in events:
        if event.KIND == ev.INPUT:
            out.append((seq, parse_ms(event.at)))  # type: ignore[attr-defined]
        else:
            out[-1] = (seq, out[-1][1])
    return out


def test_at_a_time_is_the_last_event_recorded_by_then(recorded: Path, events: list[tuple[int, ev.Event]]) -> None:
    inputs = _input_times(events)
    times = [ms for _seq, ms in inputs]
    assert times == sorted(set(times)), "the driver's clock moves a whole STEP between inputs"
    assert len(inputs) > 10
    for last_seq, ms in inputs:
        by_number = cli_json(recorded, "replay", RUN, "--at", str(last_seq), "--json")
        # At the input's own instant and until just before the next input.
        for when in (format_ms(ms), format_ms(ms + 999)):
            assert cli_json(recorded, "replay", RUN, "--at", when, "--json") == by_number, when
            assert seq_at_time(iter(events), when) == last_seq


def test_a_time_with_an_offset_means_the_same_instant(recorded: Path) -> None:
    utc = (T0 + 5 * STEP).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    shifted = (T0 + 5 * STEP + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000+02:00")
    assert cli_json(recorded, "replay", RUN, "--at", utc, "--json") == cli_json(
        recorded, "replay", RUN, "--at", shifted, "--json"
    )


def test_a_time_after_the_end_is_the_final_view(recorded: Path) -> None:
    final = cli_json(recorded, "get", RUN, "--json")
    assert cli_json(recorded, "replay", RUN, "--at", "2030-01-01T00:00:00Z", "--json") == final


@pytest.mark.parametrize("point", ["0", "2026-03-01T09:59:59.999Z"])
def test_before_the_first_event_there_is_no_run(recorded: Path, point: str) -> None:
    result = cli(recorded, "replay", RUN, "--at", point)
    assert result.exit_code == 2
    assert "the run had no events by then" in result.stderr


def test_the_submission_instant_is_the_first_batch(recorded: Path, events: list[tuple[int, ev.Event]]) -> None:
    first_input_after = next(seq for seq, e in events if seq > 1 and e.KIND == ev.INPUT)
    view = cli_json(recorded, "replay", RUN, "--at", "2026-03-01T10:00:00Z", "--json")
    assert view == cli_json(recorded, "replay", RUN, "--at", str(first_input_after - 1), "--json")
    assert seq_at_time(iter(events), "2026-03-01T10:00:00Z") == first_input_after - 1


@pytest.mark.parametrize("bad", ["yesterday", "-3", "1.5", "2026-13-01T00:00:00Z"])
def test_a_point_that_is_neither_a_number_nor_a_time(recorded: Path, bad: str) -> None:
    result = cli(recorded, "replay", RUN, "--at", bad)
    assert result.exit_code == 2
    assert f'--at "{bad}" is neither an event number nor an RFC 3339 time' in result.stderr


def test_the_text_form_lists_every_task_with_its_phase(recorded: Path) -> None:
    view = cli_json(recorded, "replay", RUN, "--at", "20", "--json")
    result = cli(recorded, "replay", RUN, "--at", "20")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"run {RUN} after event 20: {view['phase']} {view['progress']}"
    assert lines[1:] == [f"  {t['id']}: {t['phase']}" for t in view["tasks"]]


def test_the_text_form_names_the_last_event_for_a_number_past_the_end(
    recorded: Path, events: list[tuple[int, ev.Event]]
) -> None:
    last = len(events)
    result = cli(recorded, "replay", RUN, "--at", str(last + 500))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith(f"run {RUN} after event {last} (its last event): ")


def test_replay_needs_a_mode_and_a_run(recorded: Path) -> None:
    result = cli(recorded, "replay", RUN)
    assert result.exit_code == 2 and "give --at SEQ, --diff A B or --verify" in result.stderr
    missing = cli(recorded, "replay", "nope", "--at", "3")
    assert missing.exit_code == 2 and "workflow run nope not found" in missing.stderr


# --- --diff ---------------------------------------------------------------------------------


def _diff(db: Path, a: str, b: str) -> dict:
    return cli_json(db, "replay", RUN, "--diff", a, b, "--json")


def test_diff_of_a_point_with_itself_is_empty(recorded: Path) -> None:
    assert _diff(recorded, "17", "17") == {"runId": RUN, "nodes": []}


def test_diff_from_the_submission_to_the_end_creates_every_node(recorded: Path, export: list[bytes]) -> None:
    final = cli_json(recorded, "get", RUN, "--json")
    first = truncated_view(export, 1)
    diff = _diff(recorded, "1", str(len(export) - 1))
    assert diff["phase"] == [first["phase"], "Succeeded"]
    created = {n["id"]: n for n in diff["nodes"] if n["change"] == "created"}
    assert set(created) == {t["id"] for t in final["tasks"]} - {t["id"] for t in first["tasks"]}
    for task in final["tasks"]:
        if task["id"] in created:
            assert created[task["id"]]["phase"] == [None, task["phase"]]


def test_diff_shows_a_retry(recorded: Path, events: list[tuple[int, ev.Event]]) -> None:
    events = fine_grained(events)
    failed = next(
        s for s, e in events if isinstance(e, ev.TaskResultRecorded) and e.node_id == "main/c" and e.phase == "Failed"
    )
    retried = next(s for s, e in events if isinstance(e, ev.TaskDispatched) and e.reason == "retry")
    done = next(s for s, e in events if isinstance(e, ev.NodeCompleted) and e.node_id == "main/c")
    assert failed < retried < done
    diff = _diff(recorded, str(failed), str(done))
    (c,) = [n for n in diff["nodes"] if n["id"] == "main/c"]
    assert c["change"] == "updated"
    assert c["attempts"] == [1, 2] and c["retryCount"] == [0, 1]
    assert c["phase"][1] == "Succeeded"
    assert c["outputs"][1] == {"c": "ok"}
    assert "phase" not in diff  # the run was Running at both points


def test_diff_equals_the_difference_of_the_two_views(recorded: Path, export: list[bytes]) -> None:
    for a, b in [(3, 9), (9, 30), (12, 13), (25, len(export) - 1)]:
        expected = diff_views(truncated_view(export, a), truncated_view(export, b))
        assert _diff(recorded, str(a), str(b)) == expected


def test_diff_by_times_equals_diff_by_numbers(recorded: Path, events: list[tuple[int, ev.Event]]) -> None:
    t1, t2 = format_ms(parse_ms("2026-03-01T10:00:03Z")), format_ms(parse_ms("2026-03-01T10:00:09Z"))
    s1, s2 = seq_at_time(iter(events), t1), seq_at_time(iter(events), t2)
    assert 1 <= s1 < s2
    assert _diff(recorded, t1, t2) == _diff(recorded, str(s1), str(s2))


def test_diff_without_json_is_text_naming_each_change(recorded: Path, events: list[tuple[int, ev.Event]]) -> None:
    events = fine_grained(events)
    failed = next(
        s for s, e in events if isinstance(e, ev.TaskResultRecorded) and e.node_id == "main/c" and e.phase == "Failed"
    )
    done = next(s for s, e in events if isinstance(e, ev.NodeCompleted) and e.node_id == "main/c")
    result = cli(recorded, "replay", RUN, "--diff", str(failed), str(done))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"run {RUN} from event {failed} to event {done}:"
    (c,) = [line for line in lines if line.startswith("  main/c ")]
    assert c.startswith("  main/c (updated): ")
    assert "attempts 1 -> 2" in c and "retryCount 0 -> 1" in c and '{"c":"ok"}' in c
    same = cli(recorded, "replay", RUN, "--diff", "17", "17")
    assert same.stdout.splitlines()[1:] == ["  nothing changed"]


def test_diff_with_a_point_before_the_run(recorded: Path) -> None:
    result = cli(recorded, "replay", RUN, "--diff", "0", "5")
    assert result.exit_code == 2
    assert "both points must be at or after event 1" in result.stderr


def test_diff_backwards_names_every_node_that_differs(recorded: Path, export: list[bytes]) -> None:
    end = len(export) - 1
    result = cli(recorded, "replay", RUN, "--diff", str(end), "5", "--json")
    if result.exit_code == 2:
        return  # refusing a backwards diff is an acceptable fix too
    diff = orjson.loads(result.stdout)
    at_end = {t["id"] for t in truncated_view(export, end)["tasks"]}
    at_5 = {t["id"] for t in truncated_view(export, 5)["tasks"]}
    assert at_end - at_5, "the run grew between the two points"
    assert at_end - at_5 <= {n["id"] for n in diff["nodes"]}


# --- the library ----------------------------------------------------------------------------


def test_state_at_folds_from_a_start_state(events: list[tuple[int, ev.Event]]) -> None:
    middle = state_at(iter(events), 20)
    assert middle is not None
    rest = [(s, e) for s, e in events if s > 20]
    assert run_view(state_at(iter(rest), 10_000, start=middle)) == run_view(state_at(iter(events), 10_000))
    assert state_at(iter(events), 0) is None


def test_the_stream_is_stored_where_export_reads_it(recorded: Path, export: list[bytes]) -> None:
    header = orjson.loads(export[0])
    assert header["stream"] == run_stream(RUN)
