"""Running a document through the real engine with a no-op executor, so that what is timed
is the engine (deciding, recording, handing out and collecting tasks), not the tasks."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from aether.events.assignment import TaskAssignment
from aether.events.streams import run_stream
from aether.model.problems import Problem
from aether.runtime.engine import Engine
from aether.runtime.executors.base import ExecContext, ExecResult, ExecutorPlugin
from aether.store import open_log
from bench.databases import Databases
from bench.measure import own_peak_rss_mb
from bench.scenario import Row, Source, Spec

# A run that has not ended after this long is stuck, not slow.
RUN_TIMEOUT_SECONDS = 3600.0


class NoopExecutor:
    """Succeeds at once with no outputs."""

    type = "noop"

    def validate_config(self, config: Mapping[str, Any] | None) -> list[Problem]:
        return []

    def execute(self, request: TaskAssignment, ctx: ExecContext) -> ExecResult:
        return ExecResult()


@frozen
class FinishedRun:
    run_id: str
    seconds: float  # from submit to the run's end
    events: int  # the run stream's length, read from the log after the engine stopped

    @property
    def stream(self) -> str:
        return run_stream(self.run_id)


class RunFailed(Exception):
    """The run did not succeed: its timing would measure something else than the scenario."""


def run_on_bare_log(document: dict[str, Any], db: str, *, threads: int) -> FinishedRun:
    """``document`` through an engine on the event log ``db`` alone (no read models or
    snapshots), its tasks handed to ``threads`` worker threads of this process."""
    log = open_log(db)
    try:
        engine = Engine(log, executors={NoopExecutor.type: NoopExecutor()}, workers=threads)
        return _submit_and_wait(engine, document)
    finally:
        log.close()


def run_with_read_models(
    document: dict[str, Any], db: str, *, threads: int, executors: Mapping[str, ExecutorPlugin] | None = None
) -> FinishedRun:
    """``document`` through an engine as ``aether run`` assembles it (log, read models,
    view history, snapshots), then the projections brought up to the end of the log.
    ``executors``: the no-op executor unless given."""
    from aether.runtime.setup import postgres_engine, sqlite_engine
    from aether.store.postgres_connect import is_postgres_url

    executors = executors if executors is not None else {NoopExecutor.type: NoopExecutor()}
    engine = (
        postgres_engine(db, executors=executors, workers=threads)
        if is_postgres_url(db)
        else sqlite_engine(db, executors=executors, workers=threads)
    )
    try:
        finished = _submit_and_wait(engine, document)
        engine.catch_up_projections()
        return finished
    finally:
        engine.log.close()


def _submit_and_wait(engine: Engine, document: dict[str, Any]) -> FinishedRun:
    engine.start()
    try:
        started = time.perf_counter()
        run_id = engine.submit(document).run_id
        view = engine.wait(run_id, timeout=RUN_TIMEOUT_SECONDS)
        seconds = time.perf_counter() - started
    finally:
        engine.stop()
    if view.get("phase") != "Succeeded":
        raise RunFailed(f"run {run_id} ended {view.get('phase')}: {view.get('message')}")
    return FinishedRun(run_id, seconds, engine.log.stream_version(run_stream(run_id)))


def engine_round(name: str, document: dict[str, Any], spec: Spec, databases: Databases) -> list[Row]:
    """One round of an engine scenario: ``document`` on a fresh bare log, compared with raw
    appends of the rows it recorded."""
    db = databases.new(name)
    run = run_on_bare_log(document, db, threads=spec.threads)
    return [
        Row(
            name,
            run.seconds,
            tasks=spec.tasks,
            events=run.events,
            peak_rss_mb=own_peak_rss_mb(),
            limit="append",
            source=Source(db, run.stream),
            extra={"threads": spec.threads},
        )
    ]
