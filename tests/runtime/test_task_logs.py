"""Task logs on the worker side (SPEC §14.3 captured streams, §14.1 worker rules, §3.2
limits): every attempt's stdout and stderr stored while the task runs, within L-LOG, as
bytes, beside the event log; shipped through the database by a worker process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import pytest
from support.assignments import make_assignment
from support.documents import dag, dag_task, executor, shell_task, workflow

from aether.events.values import BoundParameter, SecretRef
from aether.model.limits import DEFAULT_LIMITS
from aether.runtime.engine import Engine
from aether.runtime.executors import builtin_executors
from aether.runtime.secrets import MappingSecretProvider
from aether.runtime.task_logs import CUT_MARKER, AttemptLog, TaskLogWriter, merged
from aether.runtime.worker import run_assignment
from aether.runtime.worker_process import WorkerProcess
from aether.store.memory import InMemoryEventLog
from aether.store.postgres import PostgresEventLog
from aether.store.sqlite import SqliteEventLog
from aether.store.task_logs import InMemoryTaskLogs, TaskLogChunk

pytestmark = pytest.mark.spec("14.3", "14.1", "3.2")

WAIT_SECONDS = 30.0


def eventually(check: Callable[[], bool], what: str) -> None:
    give_up = time.monotonic() + WAIT_SECONDS
    while not check():
        assert time.monotonic() < give_up, f"timed out waiting for {what}"
        time.sleep(0.02)


def output(chunks: Sequence[TaskLogChunk], stream: str | None = None) -> bytes:
    return b"".join(c.data for c in chunks if stream is None or c.stream == stream)


class Recorded:
    """What an attempt log hands its writer, in order."""

    def __init__(self) -> None:
        self.chunks: list[TaskLogChunk] = []

    def put(self, chunk: TaskLogChunk) -> int:
        self.chunks.append(chunk)
        return len(self.chunks)


ASSIGNMENT = make_assignment("shell", {"command": "true"})


# --- the limit -------------------------------------------------------------------------------


def test_output_within_the_limit_is_kept_whole_and_nothing_is_cut() -> None:
    recorded = Recorded()
    log = AttemptLog(recorded, ASSIGNMENT, limit=100)
    log.write("stdout", b"a" * 40)
    log.write("stderr", b"b" * 60)
    log.close()
    assert [(c.stream, c.data) for c in recorded.chunks] == [
        ("stdout", b"a" * 40),
        ("stderr", b"b" * 10),
        ("stderr", b"b" * 50),
    ]
    assert [c.seq for c in recorded.chunks] == [1, 2, 3]


def test_output_over_the_limit_keeps_its_head_and_tail_with_a_marker_of_the_cut() -> None:
    recorded = Recorded()
    log = AttemptLog(recorded, ASSIGNMENT, limit=100)
    data = b"".join(f"{i:04d}\n".encode() for i in range(1000))
    for start in range(0, len(data), 7):
        log.write("stdout", data[start : start + 7])
    streamed = list(recorded.chunks)
    assert output(streamed) == data[:50], "the head is stored as it comes"
    log.close()
    assert output(recorded.chunks, "stdout") == data[:50] + data[-50:]
    markers = [c for c in recorded.chunks if c.stream == "message"]
    assert [m.data.decode() for m in markers] == [CUT_MARKER.format(len(data) - 100)]
    assert recorded.chunks.index(markers[0]) == len(streamed), "the marker sits between head and tail"
    assert [c.seq for c in recorded.chunks] == sorted(c.seq for c in recorded.chunks)


def test_a_task_over_l_log_keeps_head_tail_and_marker_in_the_store() -> None:
    limits = attrs.evolve(DEFAULT_LIMITS, log_bytes=2000)
    engine = Engine(workers=1, limits=limits)
    script = "i=0; while [ $i -lt 500 ]; do echo line-$i; i=$((i+1)); done"
    view = engine.run(workflow("long", dag("main", shell_task("talk", script))), timeout=60)
    chunks = engine.log.task_logs.read(str(view["runId"]), "main/talk", 1)  # type: ignore[attr-defined]
    text = output(chunks).decode()
    assert text.startswith("line-0\nline-1\n")
    assert text.endswith("line-498\nline-499\n")
    total = sum(len(f"line-{i}\n") for i in range(500))
    assert CUT_MARKER.format(total - 2000) in text
    assert len(output(chunks, "stdout")) == 2000


# --- streaming, attempts, bytes --------------------------------------------------------------


def test_lines_are_stored_while_the_task_still_runs(tmp_path: Path) -> None:
    go = tmp_path / "go"
    engine = Engine(workers=1)
    engine.start()
    try:
        command = f'echo "waiting for go"; while [ ! -e "{go}" ]; do sleep 0.05; done; echo "went"'
        run_id = engine.submit(workflow("streaming", dag("main", shell_task("wait", command)))).run_id
        store = engine.log.task_logs  # type: ignore[attr-defined]
        eventually(lambda: b"waiting for go\n" in output(store.read(run_id, "main/wait", 1)), "the first line")
        assert engine.get_state(run_id).terminal is False
        assert b"went" not in output(store.read(run_id, "main/wait", 1))
        go.touch()
        view = engine.wait(run_id, timeout=WAIT_SECONDS)
    finally:
        engine.stop()
    assert view["phase"] == "Succeeded"
    assert output(store.read(run_id, "main/wait", 1)) == b"waiting for go\nwent\n"


def test_a_partial_line_is_stored_without_waiting_for_its_end(tmp_path: Path) -> None:
    go = tmp_path / "go"
    engine = Engine(workers=1)
    engine.start()
    try:
        command = f'printf "progress 50%%"; while [ ! -e "{go}" ]; do sleep 0.05; done'
        run_id = engine.submit(workflow("partial", dag("main", shell_task("bar", command)))).run_id
        store = engine.log.task_logs  # type: ignore[attr-defined]
        eventually(lambda: output(store.read(run_id, "main/bar", 1)) == b"progress 50%", "the unfinished line")
        go.touch()
        engine.wait(run_id, timeout=WAIT_SECONDS)
    finally:
        engine.stop()


def test_every_attempt_keeps_its_own_lines() -> None:
    engine = Engine(workers=1)
    flaky = dag_task(
        "flaky",
        executor=executor("shell", command='echo "out $AETHER_ATTEMPT"; echo "err $AETHER_ATTEMPT" >&2; exit 1'),
        retry={"limit": 2, "expression": "true"},
    )
    view = engine.run(workflow("retries", dag("main", flaky)), timeout=60)
    run_id = str(view["runId"])
    store = engine.log.task_logs  # type: ignore[attr-defined]
    assert view["phase"] == "Failed"
    assert [(a.node_id, a.attempt) for a in store.attempts(run_id)] == [("main/flaky", n) for n in (1, 2, 3)]
    for attempt in (1, 2, 3):
        chunks = store.read(run_id, "main/flaky", attempt)
        assert output(chunks, "stdout") == f"out {attempt}\n".encode()
        assert output(chunks, "stderr") == f"err {attempt}\n".encode()


def test_binary_and_invalid_utf8_output_is_stored_as_bytes() -> None:
    engine = Engine(workers=1)
    command = r"printf '\000\001\377\376 half \303'; printf '\351t\351\n' >&2"
    view = engine.run(workflow("binary", dag("main", shell_task("raw", command))), timeout=60)
    chunks = engine.log.task_logs.read(str(view["runId"]), "main/raw", 1)  # type: ignore[attr-defined]
    assert output(chunks, "stdout") == b"\x00\x01\xff\xfe half \xc3"
    assert output(chunks, "stderr") == b"\xe9t\xe9\n"


def test_the_python_executor_streams_its_output_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "aether_test_task_log_funcs.py").write_text("def talk():\n    print('from python')\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    engine = Engine(workers=1)
    task = dag_task("py", executor=executor("python", function="aether_test_task_log_funcs:talk"))
    view = engine.run(workflow("python", dag("main", task)), timeout=60)
    assert view["phase"] == "Succeeded"
    chunks = engine.log.task_logs.read(str(view["runId"]), "main/py", 1)  # type: ignore[attr-defined]
    assert output(chunks, "stdout") == b"from python\n"


def test_secret_values_are_hidden_in_the_task_log() -> None:
    store = InMemoryTaskLogs()
    writer = TaskLogWriter(store)
    assignment = make_assignment(
        "shell",
        {"command": 'echo "token is $AETHER_INPUT_TOKEN"'},
        BoundParameter("token", secret_key_ref=SecretRef("api", "token")),
    )
    task_log = writer.attempt(assignment)
    result = run_assignment(
        assignment,
        builtin_executors(),
        secrets=MappingSecretProvider({"api": {"token": "s3cr3t-value"}}),
        task_log=task_log,
    )
    assert result.code == 0
    assert writer.wait_stored(task_log.close(), WAIT_SECONDS)
    assert output(store.read("r1", "main/t", 1)) == b"token is <redacted>\n"
    writer.close()


# --- the writer ------------------------------------------------------------------------------


def test_merging_joins_consecutive_chunks_of_an_attempt_and_stream_only() -> None:
    def c(seq: int, data: bytes, stream: str = "stdout", attempt: int = 1) -> TaskLogChunk:
        return TaskLogChunk("r", "main/a", attempt, seq, stream, 1000 + seq, data)  # type: ignore[arg-type]

    chunks = [c(1, b"a"), c(1, b"x", attempt=2), c(2, b"b"), c(3, b"E", "stderr"), c(4, b"c"), c(6, b"d")]
    assert merged(chunks, 1024) == [
        c(1, b"ab"),
        c(1, b"x", attempt=2),
        c(3, b"E", "stderr"),
        c(4, b"c"),
        c(6, b"d"),
    ]
    assert merged([c(1, b"aaa"), c(2, b"bbb")], 4) == [c(1, b"aaa"), c(2, b"bbb")]


class FailingStore(InMemoryTaskLogs):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def append(self, chunks: Sequence[TaskLogChunk]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("the database went away")
        super().append(chunks)


def test_the_writer_retries_a_failed_batch() -> None:
    store = FailingStore(failures=2)
    writer = TaskLogWriter(store)
    task_log = writer.attempt(ASSIGNMENT)
    task_log.write("stdout", b"kept\n")
    assert writer.wait_stored(task_log.close(), WAIT_SECONDS)
    assert output(store.read("r1", "main/t", 1)) == b"kept\n"
    writer.close()


class LossyLog(InMemoryEventLog):
    """An in-memory log whose task logs cannot be written."""

    def __init__(self) -> None:
        super().__init__()
        self._failing = FailingStore(failures=10_000)

    @property
    def task_logs(self) -> InMemoryTaskLogs:
        return self._failing


def test_a_store_that_keeps_failing_loses_log_lines_not_the_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TaskLogWriter, "RETRIES", 2)
    log = LossyLog()
    view = Engine(log, workers=1).run(workflow("lossy", dag("main", shell_task("say", "echo lost"))), timeout=60)
    assert view["phase"] == "Succeeded"
    assert log.task_logs.attempts(str(view["runId"])) == []


# --- worker processes ------------------------------------------------------------------------


def _run_with_a_worker_process(engine_log: object, worker_log: object) -> tuple[str, list[TaskLogChunk]]:
    engine = Engine(engine_log, workers=0, drives="all", task_queue=engine_log.task_queue)  # type: ignore[arg-type, attr-defined]
    engine.recover()
    worker = WorkerProcess(
        worker_log,  # type: ignore[arg-type]
        worker_log.coordination,  # type: ignore[attr-defined]
        worker_log.task_queue,  # type: ignore[attr-defined]
        builtin_executors(),
        concurrency=1,
    )
    worker.start()
    try:
        engine.housekeeping()
        run_id = engine.submit(
            workflow("remote", dag("main", shell_task("far", 'echo "from afar"; echo "warning" >&2')))
        ).run_id
        give_up = time.monotonic() + WAIT_SECONDS
        while not engine.get_state(run_id).terminal:
            assert time.monotonic() < give_up, "the run did not finish"
            engine.pump()
            time.sleep(0.01)
        assert engine.get(run_id)["phase"] == "Succeeded"
        # The engine reads what the worker shipped, through its own connection.
        return run_id, engine_log.task_logs.read(run_id, "main/far", 1)  # type: ignore[attr-defined]
    finally:
        worker.stop(0)
        engine.stop(0)


def test_a_worker_process_ships_its_logs_through_a_sqlite_file(tmp_path: Path) -> None:
    engine_log, worker_log = SqliteEventLog(tmp_path / "aether.db"), SqliteEventLog(tmp_path / "aether.db")
    try:
        _run_id, chunks = _run_with_a_worker_process(engine_log, worker_log)
    finally:
        engine_log.close()
        worker_log.close()
    assert output(chunks, "stdout") == b"from afar\n"
    assert output(chunks, "stderr") == b"warning\n"


def test_a_worker_process_ships_its_logs_through_postgres(postgres_url: str) -> None:
    engine_log, worker_log = PostgresEventLog(postgres_url), PostgresEventLog(postgres_url)
    try:
        _run_id, chunks = _run_with_a_worker_process(engine_log, worker_log)
    finally:
        engine_log.close()
        worker_log.close()
    assert output(chunks, "stdout") == b"from afar\n"
    assert output(chunks, "stderr") == b"warning\n"


def test_concurrent_streams_of_one_attempt_never_share_a_seq() -> None:
    recorded = Recorded()
    log = AttemptLog(recorded, ASSIGNMENT, limit=1 << 20)

    def talk(stream: str) -> None:
        for i in range(500):
            log.write(stream, f"{stream} {i}\n".encode())  # type: ignore[arg-type]

    threads = [threading.Thread(target=talk, args=(s,)) for s in ("stdout", "stderr")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    seqs = [c.seq for c in recorded.chunks]
    assert sorted(seqs) == list(range(1, 1001))
    assert output(recorded.chunks, "stdout").count(b"\n") == 500
