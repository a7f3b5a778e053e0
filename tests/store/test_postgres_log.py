"""What only the PostgreSQL event log promises beyond the contract suites: its schema is
migrated once however many processes open a fresh database, a newer schema is refused,
positions become visible in commit order under concurrent appenders, a fence holds against
a concurrent removal, and a server it cannot reach is a StoreError naming it without its
password."""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from postgres_appenders import append_rounds

from aether.store import NO_STREAM, StoreError, open_log
from aether.store.coordination import Fenced, Member
from aether.store.postgres import PostgresEventLog
from aether.store.postgres_migrations import LATEST_VERSION, MIGRATIONS, SCHEMA_TABLE
from aether.testing.log_checks import assert_log_consistent, event, payload, read_everything

pytestmark = pytest.mark.spec("15")


def applied_migrations(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [version for (version,) in conn.execute(f"SELECT version FROM {SCHEMA_TABLE} ORDER BY version")]


def in_threads(count: int, body: Callable[[int], Any]) -> list[Any]:
    """``body(i)`` for i in 0..count-1 on threads released together; the results, or the
    first error raised."""
    start = threading.Barrier(count)
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait(timeout=30)
            results[index] = body(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not errors, errors
    assert len(results) == count, "a thread did not finish"
    return [results[i] for i in range(count)]


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the schema -------------------------------------------------------------------------------


def test_logs_opening_a_fresh_database_at_once_migrate_it_exactly_once(postgres_url: str) -> None:
    def open_and_append(index: int) -> int:
        with PostgresEventLog(postgres_url, pool_size=1) as log:
            return log.append(f"s{index}", [event("s", index)], NO_STREAM)

    assert in_threads(6, open_and_append) == [1] * 6
    assert applied_migrations(postgres_url) == [m.version for m in MIGRATIONS]
    with PostgresEventLog(postgres_url) as log:
        assert list(log.streams()) == [f"s{i}" for i in range(6)]


def test_an_older_schema_is_brought_up_to_date_keeping_its_events(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        conn.execute(f"CREATE TABLE {SCHEMA_TABLE} (version INTEGER PRIMARY KEY, description TEXT, applied_at FLOAT)")
        MIGRATIONS[0].apply(conn)
        conn.execute(f"INSERT INTO {SCHEMA_TABLE} VALUES (1, 'events and streams tables', 0)")
        conn.execute(
            "INSERT INTO events (position, stream, version, type, schema_version, data, recorded_at)"
            " VALUES (1, 'old', 1, 'Happened', 1, %s, 5.0)",
            (event("old").data,),
        )
        conn.execute("INSERT INTO streams VALUES ('old', 1)")
    with PostgresEventLog(postgres_url) as log:
        assert applied_migrations(postgres_url) == list(range(1, LATEST_VERSION + 1))
        assert [payload(e) for e in log.read("old")] == [("old", 0)]
        log.coordination.join(Member("m-1", "engine", "host", 1, 0, 10))
        assert log.append("old", [event("old", 1)], 1) == 2


def test_a_newer_schema_is_refused_and_left_untouched(postgres_url: str) -> None:
    PostgresEventLog(postgres_url).close()
    with psycopg.connect(postgres_url) as conn:
        conn.execute(f"INSERT INTO {SCHEMA_TABLE} VALUES (%s, 'from a later Aether', 0)", (LATEST_VERSION + 1,))
    with pytest.raises(StoreError, match=f"version {LATEST_VERSION + 1}.*upgrade Aether"):
        PostgresEventLog(postgres_url)
    assert applied_migrations(postgres_url) == [*range(1, LATEST_VERSION + 1), LATEST_VERSION + 1]


# -- commit order -----------------------------------------------------------------------------


def test_a_reader_following_read_all_never_misses_an_event_of_racing_appenders(postgres_url: str) -> None:
    """Two processes and three threads append while a reader pages through ``read_all`` from
    the last position it saw: had a later position become visible before an earlier one,
    the reader would have stepped over the earlier one for good."""
    PostgresEventLog(postgres_url).close()  # the schema, before the race
    rounds = 120
    ctx = multiprocessing.get_context("spawn")  # not fork: pytest's threads stay behind
    process_start = ctx.Barrier(3)
    processes = [
        ctx.Process(target=append_rounds, args=(postgres_url, f"process-{n}", rounds, process_start)) for n in (0, 1)
    ]
    for process in processes:
        process.start()
    seen: list[int] = []
    stop_reading = threading.Event()

    def follow() -> None:
        with PostgresEventLog(postgres_url, pool_size=1) as reader:
            after = 0
            while True:
                finished = stop_reading.is_set()  # read once more after the writers ended
                page = reader.read_all(after_position=after, limit=7)
                seen.extend(e.position for e in page)
                if page:
                    after = page[-1].position
                elif finished:
                    return

    reader_thread = threading.Thread(target=follow)
    reader_thread.start()
    try:
        process_start.wait(timeout=60)  # the processes have opened their logs
        thread_start = threading.Barrier(3)
        in_threads(3, lambda n: append_rounds(postgres_url, f"thread-{n}", rounds, thread_start))
        for process in processes:
            process.join(timeout=120)
            assert process.exitcode == 0
    finally:
        stop_reading.set()
        reader_thread.join(timeout=60)
        for process in processes:
            if process.is_alive():
                process.kill()
    with PostgresEventLog(postgres_url) as log:
        everything = assert_log_consistent(log)
        assert len(everything) == 5 * rounds * 4
        assert seen == [e.position for e in everything]
        shared = [payload(e)[0] for e in log.read("shared")]
        assert sorted(set(shared)) == ["process-0", "process-1", "thread-0", "thread-1", "thread-2"]


def test_a_batch_of_many_streams_is_one_commit_in_request_order(postgres_url: str) -> None:
    with PostgresEventLog(postgres_url) as log:
        requests = [(f"run:{n % 40}", [event("b", n)], n // 40) for n in range(1000)]
        versions = log.append_batch(requests)
        assert versions == [n // 40 + 1 for n in range(1000)]
        everything = read_everything(log)
        assert [payload(e) for e in everything] == [("b", n) for n in range(1000)]
        assert [e.position for e in everything] == list(range(1, 1001))
        assert len({e.recorded_at for e in everything}) == 1


# -- fencing ----------------------------------------------------------------------------------


def test_once_a_member_is_removed_no_append_under_its_fence_commits(postgres_url: str) -> None:
    """An appender keeps appending under its fence while another connection removes it: an
    append that checked the fence before the removal must commit before the removal does,
    so the stream never moves after ``remove_members`` returned."""
    with PostgresEventLog(postgres_url) as appender_log, PostgresEventLog(postgres_url) as remover_log:
        appender_log.coordination.join(Member("m-1", "engine", "host", 1, 0, 10))
        fenced: list[Fenced] = []
        appended = threading.Event()

        def append_until_fenced() -> None:
            version = NO_STREAM
            while True:
                try:
                    version = appender_log.append_batch([("s", [event("s", version)], version)], fence="m-1")[0]
                except Fenced as exc:
                    fenced.append(exc)
                    return
                appended.set()

        appender = threading.Thread(target=append_until_fenced)
        appender.start()
        assert appended.wait(timeout=30)
        time.sleep(0.05)
        remover_log.coordination.remove_members(["m-1"])
        version_at_removal = remover_log.stream_version("s")
        appender.join(timeout=30)
        assert [exc.member_id for exc in fenced] == ["m-1"]
        assert remover_log.stream_version("s") == version_at_removal > 0
        assert_log_consistent(remover_log)


# -- connecting -------------------------------------------------------------------------------


def test_a_refused_connection_is_a_store_error_naming_the_server_without_its_password() -> None:
    port = unused_port()
    url = f"postgresql://aether:s3cret-word@127.0.0.1:{port}/aether"
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        PostgresEventLog(url)
    message = str(caught.value)
    assert f"postgresql://aether:***@127.0.0.1:{port}/aether" in message
    assert "s3cret-word" not in message
    assert time.monotonic() - started < 5, "a refused connection must not wait for a pool's timeout"


def test_open_log_opens_a_postgresql_url(postgres_url: str) -> None:
    for url in (postgres_url, postgres_url.replace("postgresql://", "postgres://", 1)):
        log = open_log(url)
        assert isinstance(log, PostgresEventLog) and log.url == url
        log.close()


def test_a_missing_database_is_a_store_error_naming_it(postgres_url: str) -> None:
    base, _, _ = postgres_url.rpartition("/")
    with pytest.raises(StoreError, match="no_such_database"):
        PostgresEventLog(f"{base}/no_such_database")


def test_the_repr_and_errors_of_an_open_log_hide_the_password(postgres_url: str) -> None:
    # The test server trusts every local connection, so any password gets in.
    with_password = postgres_url.replace("://aether@", "://aether:hunter2@")
    assert with_password != postgres_url
    log = PostgresEventLog(with_password)
    assert "hunter2" not in repr(log) and "***" in repr(log) and "open" in repr(log)
    assert log.url == with_password
    log.close()
    assert "closed" in repr(log)
    with pytest.raises(StoreError) as caught:
        log.stream_version("s")
    assert "hunter2" not in str(caught.value)


def test_a_text_the_database_cannot_store_is_a_store_error_and_writes_nothing(postgres_url: str) -> None:
    with PostgresEventLog(postgres_url) as log:
        log.append("s", [event("s")], NO_STREAM)
        with pytest.raises(StoreError, match="nothing written"):
            log.append_batch([("s", [event("s", 1)], 1), ("nul\x00stream", [event("x")], NO_STREAM)])
        assert log.stream_version("s") == 1 and log.last_position() == 1
