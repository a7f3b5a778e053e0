"""The engine: the imperative shell around ``decide`` (ARCHITECTURE layer 9).

For each trigger: load the run's state (memory cache, else the log), ``decide``, append
the input and its decision (``decision.recorded``) atomically with the expected stream
version, then perform the effects. Many triggers are decided into one batch and committed in one transaction
(group commit); effects are performed only after that commit (the outbox rule).

The engine can be driven two ways: ``pump()`` processes everything pending right now
on the caller's thread (tests and the conformance runner drive it this way with a fake
clock), and ``start()`` runs a background loop plus a pool of worker threads.
"""

from __future__ import annotations

import heapq
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

import attrs
from attrs import frozen

from aether.events import catalog as ev
from aether.events.assignment import TaskAssignment, TaskResultReport, TaskStartReport
from aether.events.assignment_codec import TaskLostReport
from aether.events.codec import decode, encode
from aether.events.phases import Phase
from aether.events.streams import RUN_PREFIX, run_stream, submit_key_stream
from aether.events.times import datetime_to_ms, format_ms
from aether.model.json_value import JSON
from aether.model.limits import DEFAULT_LIMITS, Limits
from aether.model.problems import Problem, ValidationError
from aether.projections.snapshots import SnapshotStore
from aether.projections.views import run_view
from aether.reducers.run import apply
from aether.reducers.state import RunState
from aether.runtime.broker import LocalBroker, TaskBroker
from aether.runtime.clock import Clock, SystemClock
from aether.runtime.executors import ConfigCheck, builtin_executors, config_checks
from aether.runtime.executors.base import CODE_ERROR, ExecutorPlugin
from aether.runtime.ids import IdGenerator, UlidGenerator
from aether.runtime.notifiers import HookNotifier, LoggingNotifier
from aether.runtime.ownership import DEFAULT_LEASE_TTL, SERVING, Ownership
from aether.runtime.queue_broker import QueueBroker, Waker
from aether.runtime.secrets import SecretProvider
from aether.runtime.start_claims import StartClaim
from aether.runtime.stream import Outcome, StreamDecision, StreamKind, StreamProcessor
from aether.runtime.submission import PreparedRun, TemplateLookup, load_workflow, submitted_event
from aether.runtime.variables import SystemVars, VarsSource, snapshot
from aether.scheduler.context import Decision
from aether.scheduler.decide import decide, decide_unrecordable
from aether.scheduler.effects import ArmTimer, CancelTask, Dispatch, Effect, Notify, RunFinished
from aether.scheduler.env import globals_layer
from aether.scheduler.outbox import attempts_lost_at_takeover, may_owe_effects, outstanding_effects
from aether.store.base import NO_STREAM, ConcurrencyConflict, EventLog, PendingEvent, StoreError
from aether.store.coordination import Claim, ClaimsRefused, Coordination, Fenced
from aether.store.loading import load_run_state
from aether.store.memory import InMemoryEventLog
from aether.store.projector import Projector
from aether.store.task_queue import TaskQueue
from aether.store.view_history_reader import ViewHistoryReader

log = logging.getLogger("aether.engine")

RUN_STREAM_PREFIX = RUN_PREFIX


DrivenRuns = Literal["all", "submitted", "none"]


def _log_failure(what: str) -> None:
    """Log the exception being handled: in one line when the store refused (a full disk,
    a locked or damaged file — the command names it to the user), with its stack when
    it is anything else, which would be a bug."""
    exc = sys.exc_info()[1]
    if isinstance(exc, StoreError):
        log.error("%s: %s", what, exc)
    else:
        log.exception(what)


class RunNotFound(LookupError):
    code = "E-RUN-NOT-FOUND"

    def __init__(self, run_id: str) -> None:
        super().__init__(f"workflow run {run_id} not found")
        self.run_id = run_id


class HistoryDecodeError(Exception):
    """A recorded event that this Aether cannot decode (no upcaster, or a damaged payload)."""

    def __init__(self, run_id: str, seq: int, type_name: str, cause: Exception) -> None:
        super().__init__(f"run {run_id}: event {seq} ({type_name}) cannot be decoded: {cause}")
        self.seq = seq


class RequestRejected(Exception):
    """A resume or cancel that the run refused (recorded as ``InputRejected``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@attrs.define(eq=False)
class _StartInHand:
    """A worker's start taken from the broker: its answer, its input, its claim."""

    request: StartClaim
    trigger: tuple[str, ev.Event]
    claim: Claim


@frozen
class LoadedRun:
    state: RunState
    version: int


@frozen
class SubmitResult:
    run_id: str
    warnings: tuple[Problem, ...]
    existing: bool = False  # an idempotency key returned an earlier run


def run_kind(snapshots: SnapshotStore | None) -> StreamKind[RunState]:
    """Runs as a kind of stream: loaded from the newest snapshot plus the tail, decided by
    :func:`decide`, owing what :func:`outstanding_effects` says their events still owe."""

    def load(event_log: EventLog, stream: str, to_version: int | None) -> tuple[RunState | None, int]:
        return load_run_state(event_log, stream, snapshots, to_version=to_version)

    return StreamKind(
        name="run",
        stream_of=run_stream,
        load=load,
        reduce=apply,
        decide=decide,
        accepts_new=lambda event: isinstance(event, ev.WorkflowSubmitted),
        outstanding_effects=outstanding_effects,
        finished=lambda state: state.terminal,
        unrecordable=decide_unrecordable,
        recordable_input=recordable_report,
        record=_recorded_events,
    )


def _recorded_events(_trigger: ev.Event, decision: StreamDecision[RunState]) -> tuple[ev.Event, ...]:
    assert isinstance(decision, Decision)
    return decision.recorded


def recordable_report(report: ev.Event, reason: str) -> ev.Event | None:
    """A worker's result whose values the log cannot store becomes a failed result that
    says why (SPEC §14.1 code 3), so the attempt ends and the run goes on; any other
    input that cannot be stored is refused."""
    if not isinstance(report, ev.TaskResultReported):
        return None
    return attrs.evolve(
        report, code=CODE_ERROR, message=f"the result cannot be recorded: {reason}", parameters=(), artifacts=()
    )


class Engine:
    def __init__(
        self,
        log_store: EventLog | None = None,
        *,
        executors: Mapping[str, ExecutorPlugin] | None = None,
        broker: TaskBroker | None = None,
        task_queue: TaskQueue | None = None,
        queue_wakers: tuple[Waker, Waker] | None = None,
        clock: Clock | None = None,
        ids: IdGenerator | None = None,
        variables: Sequence[VarsSource] | None = None,
        notifiers: Sequence[HookNotifier] | None = None,
        secrets: SecretProvider | None = None,
        limits: Limits = DEFAULT_LIMITS,
        strict: bool = False,
        workers: int = 4,
        template_lookup: TemplateLookup | None = None,
        batch_size: int = 2000,
        snapshots: SnapshotStore | None = None,
        projector: Projector | None = None,
        view_history: ViewHistoryReader | None = None,
        process_types: Sequence[str] = (),
        processes: int | None = None,
        drives: DrivenRuns = "all",
        coordination: Coordination | None = None,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        member_id: str | None = None,
    ) -> None:
        self.log = log_store if log_store is not None else InMemoryEventLog()
        self.executors: dict[str, ExecutorPlugin] = dict(executors) if executors is not None else builtin_executors()
        # With a task queue in the database, assignments and reports go through it, so
        # workers in other processes (``aether worker``) take part (ARCHITECTURE rule 9).
        self.broker: TaskBroker
        if broker is not None:
            self.broker = broker
        elif task_queue is not None:
            work_waker, report_waker = queue_wakers if queue_wakers is not None else (None, None)
            self.broker = QueueBroker(
                task_queue,
                member=self._queue_member,
                now_ms=self._now_ms,
                work_waker=work_waker,
                report_waker=report_waker,
            )
        else:
            self.broker = LocalBroker()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.ids: IdGenerator = ids if ids is not None else UlidGenerator()
        self.variables: list[VarsSource] = list(variables) if variables is not None else [SystemVars()]
        self.notifiers: list[HookNotifier] = list(notifiers) if notifiers is not None else [LoggingNotifier()]
        self.secrets = secrets
        self.limits = limits
        self.strict = strict
        self.worker_count = workers
        self.template_lookup = template_lookup
        self.batch_size = batch_size
        self.snapshots = snapshots
        self.projector = projector
        # Reads what the projector's view history records (time travel without refolding).
        self.view_history = view_history
        self.process_types = tuple(process_types)
        self.processes = processes
        # "all": every run it can lease (``aether serve``). "submitted": only the runs this
        # engine submitted or forked (``aether run FILE``); the others wait for a serve.
        # "none": it only records requests (``aether submit``, ``resume``, ``cancel``); what
        # they ask for is performed by the runs' owners.
        self.drives: DrivenRuns = drives
        self._submitted_here: set[str] = set()
        self.diagnostics: list[str] = []
        # Run leases and claims (ARCHITECTURE rule 4 and 6), where the log keeps them.
        coordination = coordination if coordination is not None else getattr(self.log, "coordination", None)
        self.ownership: Ownership | None = (
            Ownership(
                coordination,
                self._now_ms,
                ttl=lease_ttl,
                member_id=member_id,
                role=SERVING if drives == "all" else "engine",
            )
            if coordination is not None and drives != "none"
            else None
        )
        self.fenced = False
        # Why the engine cannot record (set after repeated failures, cleared by a success).
        self.failure: str | None = None
        self._recording_failures = 0
        self._keeper: threading.Thread | None = None
        self._last_housekeeping = 0.0
        self._last_claim_sweep = 0.0
        self.runs = StreamProcessor(
            self.log,
            run_kind(snapshots),
            self._perform_safely,
            conflict_retries=self.CONFLICT_RETRIES,
            cache_limit=self.CACHE_LIMIT,
            fence=self._fence,
        )
        self._timers: list[tuple[int, int, str, str]] = []  # (due_ms, seq, run_id, timer_id)
        self._timer_seq = 0
        self._armed: set[tuple[str, str]] = set()
        self._lock = threading.RLock()
        self._finished: dict[str, threading.Event] = {}
        self._finish_listeners: list[Callable[[str, Phase], None]] = []
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._pool: Any = None
        self._log_position = 0
        self._backlog: list[tuple[str, ev.Event]] = []  # inputs whose append failed, to retry
        # Starts of this process's workers taken from the broker, to be claimed in the
        # transaction that records them, and answered then.
        self._starts_in_hand: list[_StartInHand] = []
        # Workers of this process reserved for assignments of the round being recorded,
        # started in its transaction and handed over once it commits: assignment id → worker.
        self._reservations: dict[str, str] = {}
        self._deliveries: list[tuple[str, ev.Event]] = []  # HookDelivered inputs to record
        on_change = getattr(self.clock, "on_change", None)
        if on_change is not None:
            on_change(self._wake.set)

    # --- public API -----------------------------------------------------------------------

    def variable_namespaces(self) -> list[str]:
        """The namespaces of the registered variable sources (``system`` by default)."""
        return [source.namespace for source in self.variables]

    def executor_checks(self) -> dict[str, ConfigCheck]:
        return config_checks(self.executors)

    def submit(
        self,
        document: str | bytes | os.PathLike[str] | Mapping[str, JSON] | Any,
        arguments: Mapping[str, JSON] | None = None,
        *,
        idempotency_key: str | None = None,
        cron: Mapping[str, JSON] | None = None,
        origin: Mapping[str, JSON] | None = None,
        source_name: str | None = None,
        run_id: str | None = None,
    ) -> SubmitResult:
        """Validate and record a new run; raise ``ValidationError`` (nothing written) on errors.

        ``document`` may also be a ``PreparedRun`` the caller already validated."""
        prepared = (
            document
            if isinstance(document, PreparedRun)
            else load_workflow(
                document,
                limits=self.limits,
                strict=self.strict,
                executor_checks=self.executor_checks(),
                template_lookup=self.template_lookup,
                source_name=source_name,
                arguments=arguments,
                variable_namespaces=self.variable_namespaces(),
            )
        )
        with self._lock:
            if idempotency_key is not None:
                existing = self._run_for_key(idempotency_key)
                if existing is not None:
                    return SubmitResult(existing, prepared.warnings, existing=True)
            run_id = run_id or self.ids.new_id(
                "run", {"name": prepared.workflow.metadata.name or ""} if prepared.workflow.metadata else {}
            )
            event = submitted_event(
                prepared,
                run_id=run_id,
                at=self._now(),
                variables=snapshot(self.variables),
                limits=self.limits,
                arguments=arguments,
                idempotency_key=idempotency_key,
                cron=cron,
                origin=origin,
            )
            extra: list[tuple[str, Sequence[PendingEvent], int]] = []
            if idempotency_key is not None:
                claim = ev.SubmissionKeyClaimed(run_id, event.at)
                extra.append((submit_key_stream(idempotency_key), [encode(claim)], NO_STREAM))
            self._submitted_here.add(run_id)
            try:
                self._start_new_run(run_id, event, extra)
            except ConcurrencyConflict:
                existing = self._run_for_key(idempotency_key) if idempotency_key else None
                if existing is None:
                    raise
                return SubmitResult(existing, prepared.warnings, existing=True)
        return SubmitResult(run_id, prepared.warnings)

    def resume(self, run_id: str, node_id: str, payload: Mapping[str, JSON] | None = None) -> None:
        self._request(run_id, ev.ResumeRequested(node_id, self._now(), dict(payload or {})))

    def cancel(self, run_id: str, reason: str = "cancelled by user") -> None:
        self._request(run_id, ev.CancelRequested(self._now(), reason))

    def get_state(self, run_id: str) -> RunState:
        with self._lock:
            return self._load(run_id).state

    def get(self, run_id: str) -> dict[str, JSON]:
        return run_view(self.get_state(run_id))

    def run_ids(self) -> list[str]:
        return [name[len(RUN_STREAM_PREFIX) :] for name in self.log.streams(RUN_STREAM_PREFIX)]

    def drives_run(self, run_id: str) -> bool:
        """Whether this engine performs what the run's recorded events ask for: it holds
        the run's lease (see ``drives``; without a coordination store, every run it
        drives by ``drives``)."""
        if self.drives == "none":
            return False
        if self.ownership is not None:
            return self.ownership.owns(run_id)
        return self.drives == "all" or run_id in self._submitted_here

    def driven_run_ids(self) -> list[str]:
        if self.drives == "none":
            return []
        if self.ownership is not None:
            return sorted(self.ownership.owned)
        if self.drives == "all":
            return self.run_ids()
        return [run_id for run_id in self.run_ids() if run_id in self._submitted_here]

    def events(
        self, run_id: str, from_version: int = 1, to_version: int | None = None
    ) -> Iterator[tuple[int, ev.Event]]:
        """The run's recorded events as (seq, event), streamed from the log. An event that no
        longer decodes raises :class:`HistoryDecodeError` naming it."""
        found = False
        for stored in self.log.read(run_stream(run_id), from_version, to_version):
            found = True
            try:
                event = decode(stored)
            except Exception as exc:  # a payload that does not decode, for whatever reason
                raise HistoryDecodeError(run_id, stored.version, stored.type, exc) from exc
            yield stored.version, event
        if not found and from_version == 1 and self.log.stream_version(run_stream(run_id)) == 0:
            raise RunNotFound(run_id)

    def state_at(self, run_id: str, seq: int) -> RunState:
        """The run as it stood right after event ``seq`` (nearest snapshot, then the tail)."""
        state, _version = load_run_state(self.log, run_stream(run_id), self.snapshots, to_version=seq)
        if state is None:
            raise RunNotFound(run_id)
        return state

    def fork(self, run_id: str, kind: str, at_seq: int | None = None) -> str:
        """Start a new run from a recorded one (``retry``: reuse what succeeded; ``reset``:
        reuse what had succeeded by event ``at_seq``). Returns the new run's id."""
        from aether.history.fork import forked_submission

        first = next(iter(self.events(run_id, 1, 1)))[1]
        assert isinstance(first, ev.WorkflowSubmitted)
        last = self.log.stream_version(run_stream(run_id))
        if at_seq is not None and not 1 <= at_seq <= last:
            raise ValueError(f"event {at_seq} is outside run {run_id}, whose events are 1 to {last}")
        state = self.get_state(run_id) if at_seq is None else self.state_at(run_id, at_seq)
        with self._lock:
            new_id = self.ids.new_id("run", {"name": state.name})
            event = forked_submission(first, state, run_id=new_id, at=self._now(), kind=kind, at_seq=at_seq)
            self._submitted_here.add(new_id)
            self._start_new_run(new_id, event)
        return new_id

    def on_run_finished(self, listener: Callable[[str, Phase], None]) -> None:
        self._finish_listeners.append(listener)

    def wait(self, run_id: str, timeout: float | None = None) -> dict[str, JSON]:
        """Block until the run is terminal (the engine must be started) and return its view."""
        with self._lock:
            state = self._load(run_id).state
            if state.terminal:
                return run_view(state)
            done = self._finished.setdefault(run_id, threading.Event())
        if not done.wait(timeout):
            raise TimeoutError(f"workflow run {run_id} did not finish within {timeout} s")
        return self.get(run_id)

    def run(
        self, document: Any, arguments: Mapping[str, JSON] | None = None, *, timeout: float | None = None
    ) -> dict[str, JSON]:
        """Submit and wait for the run to finish (starting the engine if needed)."""
        started_here = self._thread is None
        if started_here:
            self.start()
        try:
            result = self.submit(document, arguments)
            return self.wait(result.run_id, timeout)
        finally:
            if started_here:
                self.stop()

    # --- driving --------------------------------------------------------------------------

    def pump(self, max_rounds: int | None = None) -> int:
        """Process every pending report and due timer on this thread; return how many inputs."""
        total = 0
        rounds = 0
        while max_rounds is None or rounds < max_rounds:
            rounds += 1
            triggers = self._collect_triggers(wait=0)
            if not triggers:
                break
            with self._lock:
                self._record_round(triggers)
            self.broker.acknowledge_reports()
            total += len(triggers)
        return total

    def start(self) -> None:
        """Run the engine loop and the worker pool in background threads."""
        if self._thread is not None:
            return
        from aether.runtime.workers import WorkerPool

        self._log_position = self.log.last_position()
        self.catch_up_projections()
        self.recover()
        self._stopping.clear()
        if self.ownership is not None and self.drives != "none":
            self._keeper = threading.Thread(target=self._keep_membership, name="aether-lease", daemon=True)
            self._keeper.start()
        if self.worker_count > 0:
            self._pool = WorkerPool(
                self.broker,
                self.executors,
                size=self.worker_count,
                secrets=self.secrets,
                vars_env_for=self._vars_env_for,
                now=self.clock.now,
                process_types=self.process_types,
                processes=self.processes,
                # A queue in the database claims an assignment as a worker takes it.
                claim=None if getattr(self.broker, "claims_on_fetch", False) else self._claim,
                claim_records_start=self._claims_with_start(),
                limits=self.limits,
                worker_id_prefix="local" if self.ownership is None else self.ownership.member_id,
                task_logs=getattr(self.log, "task_logs", None),
            )
            self._pool.start()
        self._thread = threading.Thread(target=self._loop, name="aether-engine", daemon=True)
        self._thread.start()

    def drain(
        self,
        grace: float,
        *,
        waiting: Callable[[Sequence[TaskAssignment], float], None] | None = None,
        hurry: threading.Event | None = None,
    ) -> bool:
        """Stop the workers gracefully: claim no new work, let running tasks finish for up
        to ``grace`` seconds, their results recorded as usual, then interrupt the rest.
        An interrupted task's process group is terminated and it reports nothing, so the
        log holds its attempt as started and unfinished; the next engine records it as lost
        and dispatches the next attempt when it starts (:meth:`recover`). ``waiting`` hears which tasks are
        still running and the seconds of grace left, first and whenever that changes;
        setting ``hurry`` ends the grace at once. The engine goes on deciding meanwhile;
        what it dispatches waits in the log for the next engine. True when every running
        task finished by itself."""
        pool = self._pool
        if pool is None:
            return True
        pool.stop_claiming()
        give_up = time.monotonic() + grace
        shown: list[str] | None = None
        finished = not pool.interrupted()  # tasks handed over and started, not begun
        while running := pool.running():
            left = give_up - time.monotonic()
            if left <= 0 or (hurry is not None and hurry.is_set()):
                finished = False
                break
            if waiting is not None and [a.id for a in running] != shown:
                shown = [a.id for a in running]
                waiting(running, left)
            time.sleep(self.DRAIN_POLL)
        if not finished:
            pool.interrupt()
        # Interrupted tasks end as soon as their executors have stopped them; one that
        # takes longer is left to the death of this process (see executors.lifetime).
        pool.stop(self.INTERRUPT_WAIT if not finished else grace)
        self._pool = None
        # Results of the tasks that finished are written before the loop's last rounds read them.
        self.broker.flush_reports(self.INTERRUPT_WAIT)
        self._record_interrupted(pool.interrupted())
        return finished

    def _record_interrupted(self, interrupted: Sequence[tuple[TaskAssignment, str]]) -> None:
        """Record the attempts the drain interrupted as lost (``worker-stopped``), so that
        the next engine dispatches their next attempts at once instead of waiting for
        this member's lease to expire."""
        if not interrupted:
            return
        at = self._now()
        member = "" if self.ownership is None else self.ownership.member_id
        triggers: list[tuple[str, ev.Event]] = [
            (a.run_id, ev.AttemptLost(a.node_id, a.attempt, at, "worker-stopped", worker_id, member))
            for a, worker_id in interrupted
        ]
        try:
            with self._lock:
                self._process(triggers)
                if self.ownership is not None:
                    self.ownership.coordination.drop_claims([a.id for a, _worker in interrupted])
        except Exception:  # the next engine finds them through their claims instead
            _log_failure("recording the interrupted attempts failed")

    def stop(self, timeout: float = 10.0) -> None:
        """Drain the workers with ``timeout`` as the grace (see :meth:`drain`), then stop
        the engine loop once it has recorded what they reported."""
        self.drain(timeout)
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
            try:
                # Reports that arrived after the loop's last round.
                self.pump(max_rounds=self.FINAL_ROUNDS)
            except Exception:
                _log_failure("recording the last reports failed; recovery dispatches those attempts again")
        self._answer_starts(False)
        try:
            self.catch_up_projections()
        except Exception:
            _log_failure("projecting the log failed")
        self._leave()

    def _leave(self) -> None:
        """Give up this engine's membership: its leases become orphaned at once, so another
        engine takes its runs over at its next round instead of after the lease time."""
        keeper, self._keeper = self._keeper, None
        if self.ownership is None:
            return
        try:
            with self._lock:
                self.ownership.leave()
        except Exception:  # its registration then expires by itself
            _log_failure("leaving the membership failed")
        if keeper is not None:
            keeper.join(1.0)

    def _keep_membership(self) -> None:
        """Renew this engine's registration every third of the lease time, on its own
        thread, so a long decision or a busy database does not let the lease lapse."""
        ownership = self.ownership
        assert ownership is not None
        interval = ownership.ttl_ms / 3000
        while not self._stopping.wait(interval):
            if not ownership.joined:
                return
            try:
                if not ownership.renew():
                    self._on_fenced()
                    return
            except Exception:
                _log_failure("renewing the lease failed; trying again")

    def _on_fenced(self) -> None:
        """Another member found this one expired and may have taken its runs: act on
        nothing more. Running tasks are interrupted unreported; the owners of their runs
        record them as lost."""
        if self.fenced:
            return
        self.fenced = True
        if self.ownership is not None:
            self.ownership.removed()
        message = "this engine's lease expired and was taken over; it stopped deciding and executing"
        log.error(message)
        self.diagnostics.append(message)
        pool = self._pool
        if pool is not None:
            pool.interrupt()
        self._stopping.set()
        self._wake.set()

    def _fence(self) -> str | None:
        return self.ownership.fence if self.ownership is not None else None

    def _claims_with_start(self) -> bool:
        """Whether this engine's workers claim by handing their start to the engine,
        which records claim and start in one of its transactions: with run leases, on a
        broker that carries starts to the engine and back."""
        return self.ownership is not None and hasattr(self.broker, "claim_start")

    def _claim(self, assignment: TaskAssignment, worker_id: str) -> bool:
        """Claim an assignment for one of this engine's workers (ARCHITECTURE rule 6)."""
        if self.ownership is None:
            return True
        if self._claims_with_start():
            a = assignment
            started = TaskStartReport(a.id, a.run_id, a.node_id, a.attempt, worker_id)
            granted: bool = self.broker.claim_start(started)  # type: ignore[attr-defined]
            return granted
        try:
            return self.ownership.claim(assignment, worker_id)
        except Fenced:
            self._on_fenced()
            return False

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def recover(self) -> int:
        """Take up the runs this engine drives after the process that drove them stopped.

        With run leases (the default), the engine joins as a member and leases its share
        of the unfinished runs no live member holds (``drives="all"``; the rest are left to
        the other serves, and to its own housekeeping rounds), then takes each over
        (:meth:`_take_over`): the open attempts that can no longer report are recorded as
        lost and whatever the recorded events still owe is performed. Returns the number of
        active runs this engine drives."""
        with self._lock:
            if self.ownership is None:
                for run_id in self.driven_run_ids():
                    self._take_over(run_id)
            elif self.drives != "none":
                self.ownership.join()
                self.fenced = False  # a new member, if it was fenced before
                self.ownership.remove_dead_members()
                if self.drives == "all":
                    coordination = self.ownership.coordination
                    unheld = [
                        run_id
                        for run_id in self.run_ids()
                        if self._may_need_driving(run_id)
                        and ((lease := coordination.lease(run_id)) is None or lease.owner is None)
                    ]
                    self._take_over_all(self.ownership.acquire(unheld[: self.ownership.share_of(len(unheld))]))
            return len(self.active_runs())

    def _may_need_driving(self, run_id: str) -> bool:
        state = self._load(run_id).state
        return not state.terminal or bool(state.undelivered_hooks)

    def housekeeping(self) -> None:
        """Keep this engine's membership and leases current: renew its registration,
        remove the members that died, lease a share of the orphaned runs (``drives="all"``)
        and take them over, and record as lost the attempts whose claims died with their
        members. The engine loop calls it every ``HOUSEKEEPING_INTERVAL``; tests that drive
        the engine with :meth:`pump` call it themselves."""
        ownership = self.ownership
        if ownership is None or not ownership.joined or self.fenced:
            return
        with self._lock:
            if not ownership.renew():
                self._on_fenced()
                return
            departed = ownership.remove_dead_members()
            if self.drives == "all":
                orphans = ownership.coordination.orphaned_runs(self.ORPHANS_PER_ROUND)
                self._take_over_all(ownership.acquire(orphans[: ownership.share_of(len(orphans))]))
            sweep_due = time.monotonic() - self._last_claim_sweep > self.CLAIM_SWEEP_INTERVAL
            if departed or sweep_due:
                self._last_claim_sweep = time.monotonic()
                dead = ownership.coordination.dead_claims(ownership.member_id)
                if dead:
                    self._record_pending_reports()
                for run_id in sorted({claim.run_id for claim in dead}):
                    if ownership.owns(run_id):
                        self._settle_lost_attempts(run_id)

    def _take_over_all(self, run_ids: Sequence[str]) -> None:
        if not run_ids:
            return
        self._record_pending_reports()
        for run_id in run_ids:
            self._take_over(run_id)

    def _record_pending_reports(self) -> None:
        """Record the reports already waiting about the runs this engine holds, before
        judging which of their attempts are lost: a worker that reported its result and
        then died did finish its attempt."""
        while triggers := self._report_triggers(0):
            self._process(triggers)
            self.broker.acknowledge_reports()

    def _queue_member(self) -> str | None:
        ownership = self.ownership
        return ownership.member_id if ownership is not None and ownership.joined else None

    def _take_over(self, run_id: str) -> None:
        """Start driving a run another process drove (or this one, before a restart):
        record its lost attempts, then perform what its recorded events still owe
        (ARCHITECTURE rule 5). A run that is already finished is released."""
        self.runs.forget(run_id)
        try:
            state = self._load(run_id).state
        except RunNotFound:  # a lease whose submission never committed
            if self.ownership is not None:
                self.ownership.release([run_id])
            return
        if state.terminal and not state.undelivered_hooks:
            if self.ownership is not None:
                self.ownership.release([run_id])
            return
        self._settle_lost_attempts(run_id)
        cached = self._load(run_id)
        if may_owe_effects(cached.state):
            events = [event for _seq, event in self.events(run_id, 1, cached.version)]
            self._perform_recorded(run_id, events, cached.version)

    def _perform_recorded(self, run_id: str, events: Sequence[ev.Event], upto_version: int) -> None:
        """Perform what recorded ``events`` still owe (the stream processor's rule), except
        dispatching an open attempt someone holds a claim on: it is in a live member's
        hands (a dead member's claim was recorded as lost first), and dispatching it again
        would only queue a copy that could be claimed once the run's claims are released."""
        claimed: set[str] = set()
        if self.ownership is not None:
            claimed = {claim.assignment_id for claim in self.ownership.coordination.claims(run_id)}
        self.runs.perform_recorded(
            run_id,
            events,
            upto_version,
            still_owed=lambda effect: not (isinstance(effect, Dispatch) and effect.assignment.id in claimed),
        )

    def _settle_lost_attempts(self, run_id: str) -> None:
        state = self._load(run_id).state
        if self.ownership is None:
            claimed_by: dict[str, tuple[str, str]] = {}
            claims = []
        else:
            claims = self.ownership.coordination.claims(run_id)
            claimed_by = {claim.assignment_id: (claim.worker_id, claim.member_id) for claim in claims}
        alive = set() if self.ownership is None else self.ownership.known_members | {self.ownership.member_id}
        lost = attempts_lost_at_takeover(state, claimed_by, alive.__contains__, self._now())
        if lost:
            self._process([(run_id, event) for event in lost])
        if self.ownership is not None:
            settled = [c.assignment_id for c in claims if c.member_id not in alive]
            self.ownership.coordination.drop_claims(settled)

    def idle(self) -> bool:
        """Nothing for this engine to do without outside input: no assignment waiting or
        running, and every unfinished run waits for a person (a suspended task). A run
        waiting on a timer (a retry backoff, a deadline) is not idle."""
        if self.broker.pending_count():
            return False
        with self._lock:
            coordination = None if self.ownership is None else self.ownership.coordination
            if self.drives == "all" and coordination is not None and coordination.orphaned_runs(1):
                return False  # a run waits for an engine to take it
            for run_id in self.driven_run_ids():
                state = self._load(run_id).state
                if state.terminal:
                    continue
                if len(state.open_attempts) or not state.suspended:
                    return False
        return not self._backlog and not self._deliveries

    def active_runs(self) -> list[str]:
        with self._lock:
            return [run_id for run_id in self.driven_run_ids() if not self._load(run_id).state.terminal]

    # --- internals ------------------------------------------------------------------------

    def _now(self) -> str:
        return format_ms(datetime_to_ms(self.clock.now()))

    def _now_ms(self) -> int:
        return datetime_to_ms(self.clock.now())

    def _vars_env_for(self, run_id: str) -> Mapping[str, JSON]:
        cached = self.runs.cached(run_id)
        return globals_layer(cached.state) if cached is not None and cached.state is not None else {}

    def _run_for_key(self, key: str) -> str | None:
        for stored in self.log.read(submit_key_stream(key), 1, 1):
            claim = decode(stored)
            assert isinstance(claim, ev.SubmissionKeyClaimed)
            return claim.run_id
        return None

    def _load(self, run_id: str) -> LoadedRun:
        cached = self.runs.load(run_id)
        if cached.state is None:
            self.runs.forget(run_id)
            raise RunNotFound(run_id)
        return LoadedRun(cached.state, cached.version)

    def _flush_deliveries(self) -> None:
        """Record the hook deliveries a direct call caused, so the call leaves nothing pending."""
        while self._deliveries:
            deliveries, self._deliveries = self._deliveries, []
            self._process(deliveries)

    def _request(self, run_id: str, trigger: ev.Event) -> None:
        with self._lock:
            self._load(run_id)
            rejections = self._process([(run_id, trigger)])
            self._flush_deliveries()
        if rejections:
            code, message = rejections[0]
            raise RequestRejected(code, message)

    def _collect_triggers(self, wait: float) -> list[tuple[str, ev.Event]]:
        triggers: list[tuple[str, ev.Event]] = []
        if self._deliveries:
            triggers, self._deliveries = self._deliveries, []
            wait = 0
        triggers.extend(self._report_triggers(wait))
        now_ms = self._now_ms()
        while self._timers and self._timers[0][0] <= now_ms:
            _due, _seq, run_id, timer_id = heapq.heappop(self._timers)
            self._armed.discard((run_id, timer_id))
            triggers.append((run_id, ev.TimerFired(timer_id, self._now())))
        return triggers

    def _report_triggers(self, wait: float) -> list[tuple[str, ev.Event]]:
        """The workers' reports, as the inputs the runs record."""
        triggers: list[tuple[str, ev.Event]] = []
        for report in self.broker.take_reports(max_items=self.batch_size, timeout=wait):
            at = self._now()
            if isinstance(report, TaskLostReport):
                triggers.append(
                    (
                        report.run_id,
                        ev.AttemptLost(
                            report.node_id, report.attempt, at, report.reason, report.worker_id, report.member_id
                        ),
                    )
                )
            elif isinstance(report, TaskStartReport):
                triggers.append((report.run_id, ev.TaskStarted(report.node_id, report.attempt, at, report.worker_id)))
            elif isinstance(report, StartClaim):
                if report.answered:
                    continue  # refused already (its broker closed): its worker does not run it
                started = report.report
                trigger = (started.run_id, ev.TaskStarted(started.node_id, started.attempt, at, started.worker_id))
                triggers.append(trigger)
                self._starts_in_hand.append(_StartInHand(report, trigger, self._claim_of(started)))
            elif isinstance(report, TaskResultReport):
                triggers.append(
                    (
                        report.run_id,
                        ev.TaskResultReported(
                            report.node_id,
                            report.attempt,
                            at,
                            report.code,
                            report.message,
                            report.parameters,
                            report.artifacts,
                            report.worker_id,
                        ),
                    )
                )
        return triggers

    def _claim_of(self, started: TaskStartReport) -> Claim:
        assert self.ownership is not None  # workers hand starts over only under leases
        return Claim(
            started.assignment_id,
            started.run_id,
            started.node_id,
            started.attempt,
            started.worker_id,
            self.ownership.member_id,
            self._now_ms(),
        )

    def next_timer_due_ms(self) -> int | None:
        """When the earliest armed timer is due (epoch milliseconds), if any."""
        with self._lock:
            return self._timers[0][0] if self._timers else None

    def _next_timer_delay(self) -> float | None:
        if not self._timers:
            return None
        return max(0.0, (self._timers[0][0] - self._now_ms()) / 1000)

    def catch_up_projections(self) -> int:
        """Bring the read models (and their snapshots) up to the log; 0 without a projector."""
        if self.projector is None:
            return 0
        return self.projector.catch_up()

    def absorb_foreign_events(self) -> int:
        """Catch up with events other writers appended (a CLI ``resume`` or ``cancel``, a
        second engine): refresh those runs and perform what their events ask for, each
        effect being idempotent. A serve (``drives="all"``) also tries to lease each new
        run it reads that nobody holds (one recorded by ``aether submit``), so such a run
        starts without waiting for the next housekeeping round. Returns how many foreign
        events were seen."""
        seen = 0
        while True:
            with self._lock:
                batch = self.log.read_all(self._log_position, limit=1000)
                if not batch:
                    return seen
                foreign: dict[str, tuple[list[ev.Event], int]] = {}
                new_runs: list[str] = []
                for stored in batch:
                    self._log_position = stored.position
                    if not stored.stream.startswith(RUN_STREAM_PREFIX):
                        continue
                    run_id = stored.stream[len(RUN_STREAM_PREFIX) :]
                    if self.runs.wrote(stored.stream, stored.version):
                        continue  # asked first, so that what is remembered of it is let go
                    if not self.drives_run(run_id):
                        if stored.version == 1 and self.drives == "all" and self.ownership is not None:
                            new_runs.append(run_id)
                        continue
                    seen += 1
                    self.runs.forget(run_id)
                    events, _upto = foreign.get(run_id, ([], 0))
                    events.append(decode(stored))
                    foreign[run_id] = (events, stored.version)
                # Judged against the run as of the last foreign event read; the run is then
                # loaded afresh, since this engine may have appended after those events.
                for run_id, (events, upto) in foreign.items():
                    self._perform_recorded(run_id, events, upto)
                    self.runs.forget(run_id)
                if new_runs and self.ownership is not None and self.ownership.joined:
                    share = self.ownership.share_of(len(new_runs))
                    self._take_over_all(self.ownership.acquire(new_runs[:share]))

    def _loop(self) -> None:
        last_tail = 0.0
        while not self._stopping.is_set():
            if time.monotonic() - self._last_housekeeping > self.HOUSEKEEPING_INTERVAL:
                self._last_housekeeping = time.monotonic()
                try:
                    self.housekeeping()
                except Fenced:
                    self._on_fenced()
                except Exception:
                    _log_failure("keeping the leases failed")
            if time.monotonic() - last_tail > self.TAIL_INTERVAL:
                last_tail = time.monotonic()
                try:
                    self.absorb_foreign_events()
                    self.catch_up_projections()
                except Exception:
                    _log_failure("reading the log or projecting it failed")
            delay = self._next_timer_delay()
            wait = 0.05 if delay is None else min(delay, 0.05)
            triggers = self._backlog + self._collect_triggers(wait=0 if self._backlog else wait)
            self._backlog = []
            if not triggers:
                continue
            try:
                with self._lock:
                    self._record_round(triggers)
            except Fenced:
                self._on_fenced()
            except Exception as exc:  # e.g. the database is locked or full: keep the inputs, try again
                self._backlog = triggers
                self._stopping.wait(self._failed_to_record(exc, len(triggers)))
            else:
                self._recording_failures = 0
                self.failure = None
                try:
                    self.broker.acknowledge_reports()
                except Exception:  # read again and recorded as duplicates: nothing is lost
                    _log_failure("acknowledging recorded reports failed")

    def _process(
        self,
        triggers: Iterable[tuple[str, ev.Event]],
        *,
        extra_appends: Sequence[tuple[str, Sequence[PendingEvent], int]] = (),
        new_run: bool = False,
        claims: Sequence[Claim] = (),
    ) -> list[tuple[str, str]]:
        """Decide every trigger, append all their events (and ``claims``) in one
        transaction, then perform the effects (the stream processor). Returns the
        rejections, in order."""
        hands_over = self._pool is not None and self._claims_with_start() and hasattr(self.broker, "hand_over")
        follow_up = self._start_on_waiting_workers if hands_over else None
        try:
            outcomes = self.runs.process(
                triggers, extra_appends=extra_appends, new_stream=new_run, claims=claims, follow_up=follow_up
            )
        except Fenced:
            self._on_fenced()  # wherever it is found: a request, a pump, the loop
            raise
        finally:
            self._release_reservations()  # any not handed over: nothing was, or will be, recorded for them
        try:
            self.broker.flush()
        except Exception:  # kept by the broker for its next flush; the decisions are recorded
            _log_failure("handing the dispatched tasks to the queue failed; trying again")
        return [
            (outcome.rejection.code, outcome.rejection.message) for outcome in outcomes if outcome.rejection is not None
        ]

    def _record_round(self, triggers: list[tuple[str, ev.Event]]) -> None:
        """Record a round of inputs with the claims of the starts in hand, then answer
        those starts. A start whose attempt was claimed before is refused and left out of
        ``triggers`` (in place, so that a caller keeping them for another try keeps it out
        too), and the round is decided again without it; one that cannot be recorded now
        stays in hand for the next round, unanswered."""
        while True:
            claims = [start.claim for start in self._starts_in_hand]
            try:
                self._process(triggers, claims=claims)
            except ClaimsRefused as refused:
                ids = set(refused.assignment_ids)
                taken = [start for start in self._starts_in_hand if start.claim.assignment_id in ids]
                if not taken:  # an attempt this engine just dispatched, claimed by another
                    raise
                for start in taken:
                    start.request.answer(False)
                left_out = {id(start.trigger) for start in taken}
                triggers[:] = [trigger for trigger in triggers if id(trigger) not in left_out]
                self._starts_in_hand = [start for start in self._starts_in_hand if start not in taken]
                continue
            except Fenced:
                self._answer_starts(False)
                raise
            self._answer_starts(True)
            return

    def _start_on_waiting_workers(self, outcomes: Sequence[Outcome]) -> tuple[list[tuple[str, ev.Event]], list[Claim]]:
        """The round's dispatches that a worker of this process waiting for work can take
        at once are started in the round's own transaction: each gets a reserved worker,
        a ``TaskStarted`` decided after the round's inputs and that worker's claim, and is
        handed to it once the round commits (``_perform``). A chain of tasks then costs one
        round per task instead of two (dispatch, then start). Asked again when the round is
        decided again, so what an earlier try reserved is given up first."""
        self._release_reservations()
        assert self.ownership is not None
        if self._pool is None or self._pool.stopping:
            return [], []
        member_id = self.ownership.member_id
        cancelled = {e.assignment_id for o in outcomes for e in o.effects if isinstance(e, CancelTask)}
        starts: list[tuple[str, ev.Event]] = []
        claims: list[Claim] = []
        no_worker: set[str] = set()  # executor types nobody waits for (a fan-out dispatches thousands)
        for outcome in outcomes:
            for effect in outcome.effects:
                if not isinstance(effect, Dispatch):
                    continue
                a = effect.assignment
                if a.executor_type in no_worker or a.id in cancelled or not self.drives_run(a.run_id):
                    continue
                worker_id = self.broker.reserve_waiting_worker(a.executor_type)  # type: ignore[attr-defined]
                if worker_id is None:
                    no_worker.add(a.executor_type)
                    continue
                self._reservations[a.id] = worker_id
                starts.append((a.run_id, ev.TaskStarted(a.node_id, a.attempt, self._now(), worker_id)))
                claims.append(Claim(a.id, a.run_id, a.node_id, a.attempt, worker_id, member_id, self._now_ms()))
        return starts, claims

    def _release_reservations(self) -> None:
        reservations, self._reservations = self._reservations, {}
        for worker_id in reservations.values():
            self.broker.release_worker(worker_id)  # type: ignore[attr-defined]

    def _answer_starts(self, granted: bool) -> None:
        starts, self._starts_in_hand = self._starts_in_hand, []
        for start in starts:
            start.request.answer(granted)

    CONFLICT_RETRIES = 5
    RETRY_DELAY = 0.5
    RETRY_DELAY_MAX = 5.0
    RECORDING_FAILURES_TO_GIVE_UP = 10  # rounds in a row (about 20 s) before ``failure`` is set
    DRAIN_POLL = 0.05
    INTERRUPT_WAIT = 3.0  # seconds for interrupted tasks to end before stop goes on without them
    FINAL_ROUNDS = 10
    # Runs kept in memory between triggers; finished runs are dropped first (they are
    # reloaded from the log on demand), so a long-lived engine does not grow without bound.
    CACHE_LIMIT = 10_000
    TAIL_INTERVAL = 0.2
    HOUSEKEEPING_INTERVAL = 1.0  # seconds between rounds of lease renewal and takeover
    # A full look for dead claims, besides after each departure this engine sees: it finds
    # the claims of a member that joined and died between two rounds, removed by another.
    CLAIM_SWEEP_INTERVAL = 5.0
    ORPHANS_PER_ROUND = 1000

    def _deliver(self, key: str, payload: Mapping[str, JSON]) -> None:
        """Call every notifier, then record the delivery (and any failure, as a warning) so
        that recovery re-sends only what was never delivered."""
        message = {**payload, "idempotencyKey": key}
        errors: list[str] = []
        for notifier in self.notifiers:
            try:
                notifier.notify(message)
            except Exception as exc:  # a notifier failure never affects the run (§11.5)
                errors.append(f"{type(notifier).__name__}: {exc}")
                self.diagnostics.append(f"W-HOOK-DELIVERY: {key}: {exc}")
        run_id = str(payload.get("runId", ""))
        self._deliveries.append((run_id, ev.HookDelivered(key, self._now(), "; ".join(errors))))
        self._wake.set()

    def _arm(self, run_id: str, timer_id: str, due_ms: int) -> None:
        if (run_id, timer_id) in self._armed:
            return
        self._armed.add((run_id, timer_id))
        self._timer_seq += 1
        heapq.heappush(self._timers, (due_ms, self._timer_seq, run_id, timer_id))
        self._wake.set()

    def _failed_to_record(self, exc: Exception, kept: int) -> float:
        """Note a failed round of recording and say how long to wait before the next. The
        first failure is logged in full, the next ones in a line each; after
        ``RECORDING_FAILURES_TO_GIVE_UP`` in a row, ``failure`` says why, for the command
        to give up with one clear message (a full disk, a database locked for long)."""
        self._recording_failures += 1
        if self._recording_failures == 1:
            _log_failure(f"recording failed; {kept} inputs kept for the next attempt")
            self.diagnostics.append(f"recording failed: {exc}")
        else:
            log.error("recording failed again (%d times): %s", self._recording_failures, exc)
        if self._recording_failures >= self.RECORDING_FAILURES_TO_GIVE_UP:
            self.failure = f"cannot record to the event log: {exc}"
        return min(self.RETRY_DELAY * self._recording_failures, self.RETRY_DELAY_MAX)

    def _start_new_run(
        self, run_id: str, event: ev.Event, extra: Sequence[tuple[str, Sequence[PendingEvent], int]] = ()
    ) -> None:
        """Record a new run. An engine that drives it leases it first, so no other engine
        takes it up between the append and the lease; one that does not offers it after the
        append, as an orphaned lease any serve picks up."""
        ownership = self.ownership
        leased = False
        if ownership is not None and self.drives != "none":
            ownership.join()
            leased = bool(ownership.acquire([run_id]))
        try:
            rejections = self._process([(run_id, event)], extra_appends=extra, new_run=True)
            if rejections:
                code, message = rejections[0]
                raise RequestRejected(code, message)
        except BaseException:
            if leased and ownership is not None:
                ownership.release([run_id])
            raise
        self._flush_deliveries()
        coordination = getattr(self.log, "coordination", None)
        if not leased and isinstance(coordination, Coordination):
            coordination.offer([run_id])

    def _perform_safely(self, run_id: str, effect: Effect) -> None:
        if not self.drives_run(run_id):
            return  # the run's owner performs it, when it reads the event from the log
        try:
            self._perform(effect)
        except Exception:  # the decision is durable; recovery re-issues what was lost
            log.exception("performing %s failed", type(effect).__name__)
            self.diagnostics.append(f"performing {type(effect).__name__} failed; see the log")

    def _perform(self, effect: Effect) -> None:
        if isinstance(effect, Dispatch):
            worker_id = self._reservations.pop(effect.assignment.id, None)
            if worker_id is None:
                self.broker.dispatch(effect.assignment)
            else:  # its claim and start are recorded with its dispatch
                self.broker.hand_over(worker_id, effect.assignment)  # type: ignore[attr-defined]
        elif isinstance(effect, CancelTask):
            self.broker.cancel(effect.assignment_id)
        elif isinstance(effect, ArmTimer):
            self._arm(effect.run_id, effect.timer_id, effect.due_ms)
        elif isinstance(effect, Notify):
            self._deliver(effect.idempotency_key, effect.payload)
        elif isinstance(effect, RunFinished):
            done = self._finished.pop(effect.run_id, None)
            if done is not None:
                done.set()
            for listener in self._finish_listeners:
                listener(effect.run_id, effect.phase)
            self.broker.run_finished(effect.run_id)
            if self.ownership is not None:
                self.ownership.release([effect.run_id])


__all__ = ["Engine", "RequestRejected", "RunNotFound", "SubmitResult", "ValidationError"]
