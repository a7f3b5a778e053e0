"""A pool of worker threads that run assignments from a broker (SPEC §14.1).

Each thread loops fetch → report started → :func:`run_assignment` → report result. A
thread survives anything an executor or the broker throws at it: a worker that dies
silently would leave its attempt running forever in the engine's eyes.

Stopping is graceful in two steps: :meth:`WorkerPool.stop_claiming` lets every running
assignment finish and report, and :meth:`WorkerPool.interrupt` stops the rest through
their cancel flag without reporting them, so that the log holds them as never finished
and the next engine dispatches them again (ARCHITECTURE rule 5).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from datetime import datetime
from typing import Any, Protocol

from aether.events.assignment import TaskAssignment, TaskResultReport, TaskStartReport
from aether.model.json_value import JSON
from aether.model.limits import DEFAULT_LIMITS, Limits
from aether.runtime.executors.base import CODE_ERROR, ExecResult, ExecutorPlugin
from aether.runtime.executors.lifetime import die_with_owner
from aether.runtime.secrets import SecretProvider
from aether.runtime.task_logs import AttemptLog, TaskLogWriter
from aether.runtime.worker import run_assignment, utc_now
from aether.store.task_logs import TaskLogStore

_log = logging.getLogger(__name__)


class WorkerBroker(Protocol):
    """What a worker needs from a broker: the worker half of SPEC §15 ``TaskBroker``, plus
    the cancel flag of an assignment it is running and a way to give back an assignment
    it will not finish (its process is stopping)."""

    def fetch(
        self, worker_id: str, executor_types: Collection[str] | None, timeout: float | None
    ) -> TaskAssignment | None: ...

    def report_started(self, started: TaskStartReport) -> None: ...

    def report_result(self, result: TaskResultReport) -> None: ...

    def is_cancelled(self, assignment_id: str) -> bool: ...

    def release(self, assignment_id: str) -> None: ...


def _no_vars(_run_id: str) -> Mapping[str, JSON]:
    return {}


class WorkerPool:
    def __init__(
        self,
        broker: WorkerBroker,
        executors: Mapping[str, ExecutorPlugin],
        *,
        size: int = 4,
        secrets: SecretProvider | None = None,
        vars_env_for: Callable[[str], Mapping[str, JSON]] = _no_vars,
        now: Callable[[], datetime] = utc_now,
        worker_id_prefix: str = "local",
        executor_types: Collection[str] | None = None,
        artifacts: Any = None,
        poll_seconds: float = 0.5,
        process_types: Collection[str] = (),
        processes: int | None = None,
        claim: Callable[[TaskAssignment, str], bool] | None = None,
        claim_records_start: bool = False,
        limits: Limits = DEFAULT_LIMITS,
        task_logs: TaskLogStore | None = None,
    ) -> None:
        """``executor_types`` limits what the pool fetches; by default it fetches every
        type, so that an assignment of a type nobody runs gets SPEC §14.1's code 3
        ``unknown executor type`` instead of waiting forever. ``poll_seconds`` bounds how
        long ``stop`` waits for an idle thread.

        ``process_types`` names executor types whose assignments run in a pool of
        ``processes`` child processes (default: one per CPU) instead of on the worker
        thread, for executors that are CPU-bound. Such an executor and the secret provider
        must be picklable; a cancel that arrives while the child runs is honoured by
        ignoring its result (the child process itself finishes its work).

        ``claim`` is asked before an assignment starts (ARCHITECTURE rule 6): False means
        the attempt was claimed before, by this or another process, or this process may no
        longer act, and the assignment is dropped without running or reporting. With
        ``claim_records_start`` a granted claim means the start is recorded too (the
        engine's own workers, :mod:`aether.runtime.start_claims`), so it is not reported
        again.

        ``task_logs``: where every attempt's output is stored while it runs, within
        ``limits.log_bytes`` (L-LOG); an attempt's result is reported once its output is
        stored, so a finished run's logs are complete. Executors of ``process_types``
        log nothing."""
        if size < 1:
            raise ValueError("a worker pool needs at least one thread")
        self._broker = broker
        self._executors = dict(executors)
        self._size = size
        self._secrets = secrets
        self._vars_env_for = vars_env_for
        self._now = now
        self._prefix = worker_id_prefix
        self._executor_types = None if executor_types is None else frozenset(executor_types)
        self._artifacts = artifacts
        self._poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._interrupted = threading.Event()
        self._running: dict[str, TaskAssignment] = {}  # by worker id
        self._running_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._process_types = frozenset(process_types)
        self._processes = processes
        self._process_pool: ProcessPoolExecutor | None = None
        self._claim = claim
        self._claim_records_start = claim is not None and claim_records_start
        self._limits = limits
        self._interrupted_attempts: list[tuple[TaskAssignment, str]] = []
        self._task_logs = task_logs
        self._log_writer = None if task_logs is None else TaskLogWriter(task_logs)

    @property
    def worker_ids(self) -> list[str]:
        return [f"{self._prefix}-{i}" for i in range(1, self._size + 1)]

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("worker pool already started")
        self._stopping.clear()
        self._interrupted.clear()
        if self._task_logs is not None and (self._log_writer is None or self._log_writer.closed):
            self._log_writer = TaskLogWriter(self._task_logs)  # the last stop closed it
        if self._process_types and self._process_pool is None:
            self._process_pool = ProcessPoolExecutor(
                max_workers=self._processes, initializer=die_with_owner, initargs=(os.getpid(),)
            )
            # Started now, from the thread that starts the pool and outlives it, rather
            # than from the worker thread that submits first: the pool processes' death
            # signal is tied to the thread that started them.
            self._process_pool.submit(os.getpid).result()
        for worker_id in self.worker_ids:
            thread = threading.Thread(target=self._loop, args=(worker_id,), name=f"aether-{worker_id}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def running(self) -> list[TaskAssignment]:
        """The assignments being executed right now, in worker order."""
        with self._running_lock:
            return [self._running[worker_id] for worker_id in self.worker_ids if worker_id in self._running]

    def stop_claiming(self) -> None:
        """Fetch nothing more; running assignments go on and report as usual. Once this
        returns, :meth:`running` lists every assignment that will still run. Assignments
        handed over with their starts recorded and not begun yet are not run: they are
        listed by :meth:`interrupted`, for their owner to record them lost."""
        with self._running_lock:
            self._stopping.set()
            take_back = getattr(self._broker, "take_back_handed", None)
            if take_back is not None:
                for worker_id, assignment in take_back():
                    self._interrupted_attempts.append((assignment, worker_id))

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def interrupt(self) -> None:
        """Stop claiming, and stop every running assignment through its cancel flag (a
        process executor terminates the task's process group). Their results are not
        reported: the attempts stay unfinished in the log, to be dispatched again."""
        self._stopping.set()
        self._interrupted.set()

    def interrupted(self) -> list[tuple[TaskAssignment, str]]:
        """The assignments that started and were interrupted, with their worker ids: their
        executions are over, unreported. Only those whose thread has ended are listed."""
        with self._running_lock:
            return list(self._interrupted_attempts)

    def stop(self, timeout: float | None = None) -> bool:
        """Ask every thread to stop after its current assignment; wait up to ``timeout``
        seconds in all. True when every thread has stopped."""
        self._stopping.set()
        give_up = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if give_up is None else max(0.0, give_up - time.monotonic()))
        alive = [t for t in self._threads if t.is_alive()]
        self._threads = alive
        if self._process_pool is not None and not alive:
            self._process_pool.shutdown(wait=False, cancel_futures=True)
            self._process_pool = None
        if self._log_writer is not None and not alive:
            self._log_writer.close(self.LOG_WAIT_SECONDS)
        return not alive

    # How long a finished attempt waits for its output to be stored before it reports.
    LOG_WAIT_SECONDS = 5.0

    def _loop(self, worker_id: str) -> None:
        while not self._stopping.is_set():
            try:
                assignment = self._broker.fetch(worker_id, self._executor_types, self._poll_seconds)
            except Exception:
                _log.exception("worker %s: fetch failed", worker_id)
                self._stopping.wait(self._poll_seconds)  # do not spin on a broken broker
                continue
            if assignment is None:
                if getattr(self._broker, "closed", False):
                    return
                continue
            with self._running_lock:
                fetched_too_late = self._stopping.is_set()
                if not fetched_too_late:
                    self._running[worker_id] = assignment
            if fetched_too_late:
                # Fetched as the pool was told to stop: give it back unstarted. One whose
                # start is already recorded did not run to its end, and is reported so.
                if getattr(self._broker, "started_before_run", lambda _id: False)(assignment.id):
                    with self._running_lock:
                        self._interrupted_attempts.append((assignment, worker_id))
                self._release(worker_id, assignment)
                return
            try:
                self._run(worker_id, assignment)
            except Exception:
                _log.exception("worker %s: assignment %s", worker_id, assignment.id)
            finally:
                with self._running_lock:
                    del self._running[worker_id]

    def _run(self, worker_id: str, assignment: TaskAssignment) -> None:
        def cancelled() -> bool:
            return self._interrupted.is_set() or self._broker.is_cancelled(assignment.id)

        if self._interrupted.is_set():
            self._release(worker_id, assignment)
            return
        if cancelled():
            # Cancelled between fetch and start: do not start anything; the engine
            # records the result as ignored (ARCHITECTURE rule 6).
            self._report(worker_id, assignment, ExecResult(CODE_ERROR, "task cancelled before start"))
            return
        if not self._claimed(worker_id, assignment):
            return
        if not self._claim_records_start:
            try:
                self._broker.report_started(
                    TaskStartReport(assignment.id, assignment.run_id, assignment.node_id, assignment.attempt, worker_id)
                )
            except Exception:
                _log.exception("worker %s: report_started %s failed", worker_id, assignment.id)
        task_log = None if self._log_writer is None else self._log_writer.attempt(assignment, self._limits.log_bytes)
        try:
            if self._process_pool is not None and assignment.executor_type in self._process_types:
                result = self._run_in_process(assignment, cancelled)
            else:
                result = run_assignment(
                    assignment,
                    self._executors,
                    secrets=self._secrets,
                    vars_env=self._vars_env_for(assignment.run_id),
                    now=self._now,
                    cancelled=cancelled,
                    artifacts=self._artifacts,
                    log=lambda msg: _log.info("%s: %s", assignment.id, msg),
                    limits=self._limits,
                    task_log=task_log,
                )
        except Exception as exc:  # run_assignment does not raise; vars_env_for might
            result = ExecResult(CODE_ERROR, f"worker failure: {str(exc) or type(exc).__name__}")
        self._store_log(task_log)
        if self._interrupted.is_set():
            # Whatever the executor made of the interruption, it is not the task's result.
            # A task that ended by itself at the same instant is dropped too, and runs
            # again: execution is at-least-once, recording exactly-once.
            _log.info("worker %s: %s interrupted; not reported", worker_id, assignment.id)
            self._release(worker_id, assignment)
            with self._running_lock:
                self._interrupted_attempts.append((assignment, worker_id))
            return
        self._report(worker_id, assignment, result)

    def _store_log(self, task_log: AttemptLog | None) -> None:
        if task_log is None or self._log_writer is None:
            return
        last = task_log.close()
        if last and not self._log_writer.wait_stored(last, self.LOG_WAIT_SECONDS):
            _log.warning("the output of an attempt was not stored within %.0f s", self.LOG_WAIT_SECONDS)

    def _claimed(self, worker_id: str, assignment: TaskAssignment) -> bool:
        if self._claim is None:
            return True
        for delay in self.CLAIM_RETRY_DELAYS:
            try:
                if self._claim(assignment, worker_id):
                    return True
                _log.info("worker %s: %s was claimed before; not run", worker_id, assignment.id)
                return False
            except Exception:  # the database is busy or unreachable: try again, then give up
                _log.exception("worker %s: claiming %s failed", worker_id, assignment.id)
                if self._stopping.wait(delay):
                    break
        # Never claimed, so never run: the attempt stays open and unclaimed, and the
        # engine that next takes the run over dispatches it again as itself.
        self._release(worker_id, assignment)
        return False

    CLAIM_RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)

    def _release(self, worker_id: str, assignment: TaskAssignment) -> None:
        try:
            self._broker.release(assignment.id)
        except Exception:
            _log.exception("worker %s: release %s failed", worker_id, assignment.id)

    def _run_in_process(self, assignment: TaskAssignment, cancelled: Callable[[], bool]) -> ExecResult:
        assert self._process_pool is not None
        plugin = {assignment.executor_type: self._executors[assignment.executor_type]}
        future = self._process_pool.submit(
            _execute_in_child,
            assignment,
            plugin,
            self._secrets,
            dict(self._vars_env_for(assignment.run_id)),
            self._limits,
        )
        while True:
            try:
                return future.result(timeout=self._poll_seconds)
            except FuturesTimeout:
                if cancelled():
                    future.cancel()
                    return ExecResult(CODE_ERROR, "task cancelled")
            except Exception as exc:  # the child died, or the plugin could not be pickled
                return ExecResult(CODE_ERROR, f"worker process failure: {str(exc) or type(exc).__name__}")

    def _report(self, worker_id: str, assignment: TaskAssignment, result: ExecResult) -> None:
        report = result.report(assignment, worker_id)
        try:
            self._broker.report_result(report)
        except Exception:
            _log.exception("worker %s: report_result %s failed", worker_id, assignment.id)


def _execute_in_child(
    assignment: TaskAssignment,
    executors: Mapping[str, ExecutorPlugin],
    secrets: SecretProvider | None,
    vars_env: Mapping[str, JSON],
    limits: Limits,
) -> ExecResult:
    """Runs in a pool process: the same worker rules, on the real clock."""
    return run_assignment(assignment, executors, secrets=secrets, vars_env=vars_env, limits=limits)
