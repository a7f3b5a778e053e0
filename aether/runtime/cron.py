"""The cron shell (SPEC §12, ARCHITECTURE layer 9): ``CronService`` wraps an ``Engine``.

For every input: load the cron's state (cache + the stream's tail), ``decide_cron``,
append ``[input, *decisions]`` to ``cron:<namespace>/<name>`` expecting the version the
state was read at, and only then perform the effects (submit a run, cancel a run). A
version conflict means another writer got there first: reload, decide again.

Exactly once (§12.3) rests on two guards. The cron stream holds every processed
scheduled time and the reducer refuses a second processing, so of two writers racing for
one tick only one append succeeds. The run is submitted with the tick's idempotency key
and a run id derived from it, so a submission repeated after a crash (``recover``) or
by a second engine returns the run that exists.

Time is the engine's injected clock; nothing here reads the system time, so a test on a
``FakeClock`` drives the cron instantly.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from attrs import evolve, frozen

from aether.events import catalog as ev
from aether.events.cron_events import CronRunStartFailed
from aether.events.phases import Phase
from aether.events.times import datetime_to_ms, format_ms
from aether.expr import check_expression
from aether.model import dump_document, load_document, load_file
from aether.model.defaults import DEFAULT_NAMESPACE
from aether.model.json_value import JSON
from aether.model.problems import ValidationError, warning
from aether.model.refs import no_templates
from aether.model.schedule import parse_rfc3339, valid_timezone
from aether.model.types import KIND_CRON, CronWorkflow
from aether.reducers.cron import CronState, apply_cron, cron_stream
from aether.runtime.clock import Clock
from aether.runtime.engine import Engine, RequestRejected, RunNotFound
from aether.runtime.stream import Cached, Outcome, StreamKind, StreamProcessor, folded_from_the_start
from aether.runtime.submission import PreparedDocument
from aether.scheduler.cron import (
    E_BACKFILL_RANGE,
    E_NOT_FOUND,
    E_TICK_PROCESSED,
    IGNORED,
    CronRequestError,
    catchup_inputs,
    decide_cron,
    due_ticks,
    next_tick_ms,
    plan_backfill,
)
from aether.scheduler.effects import CancelRun, Effect, StartRun
from aether.scheduler.outbox import start_run

log = logging.getLogger("aether.cron")

CRON_STREAM_PREFIX = "cron:"
CronError = CronRequestError  # what callers catch: every refusal has a code and a message


@frozen
class PreparedCron(PreparedDocument):
    """A validated CronWorkflow: the wire document to store (defaults applied, ``Local``
    resolved) and the warnings to show."""


def host_timezone() -> str:
    """The IANA name of the host's zone (``timezone: Local``, §2.7): ``$TZ`` if it names a
    zone, else the target of ``/etc/localtime``, else ``/etc/timezone``, else UTC."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and valid_timezone(tz):
        return tz
    try:
        target = os.path.realpath("/etc/localtime")
        marker = "zoneinfo/"
        if marker in target:
            name = target.split(marker, 1)[1]
            if valid_timezone(name):
                return name
    except OSError:
        pass
    try:
        name = Path("/etc/timezone").read_text().strip()
        if valid_timezone(name):
            return name
    except OSError:
        pass
    return "UTC"


InputsFor = Callable[[CronState | None], list[ev.Event]]


# A cron's stream is keyed by its own name. What its recorded runs still owe is settled
# from the cron's state against the engine's runs (``CronService._settle``), not from events.
CRON_KIND: StreamKind[CronState] = StreamKind(
    name="cron",
    stream_of=lambda stream: stream,
    load=folded_from_the_start(apply_cron),
    reduce=apply_cron,
    decide=decide_cron,
    accepts_new=lambda _event: True,
)


class CronService:
    CONFLICT_RETRIES = 10
    POLL_SECONDS = 1.0  # how often the ticker looks for crons other processes changed

    def __init__(self, engine: Engine, *, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock: Clock = clock if clock is not None else engine.clock
        self.log = engine.log
        self.limits = engine.limits
        self._lock = threading.RLock()
        self.crons = StreamProcessor(self.log, CRON_KIND, self._perform, conflict_retries=self.CONFLICT_RETRIES)
        # Finished runs reported by the engine, possibly from its own thread while it holds
        # its lock: they are only queued there, and recorded by whoever next holds ours,
        # so the two locks are never taken in opposite orders.
        self._finished: deque[tuple[str, Phase]] = deque()
        self._caught_up = False
        self._unsettled: set[str] = set()  # crons whose last effect failed part-way: settle them
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        engine.on_run_finished(self._on_run_finished)
        on_change = getattr(self.clock, "on_change", None)
        if on_change is not None:
            on_change(self._wake.set)

    # --- documents ------------------------------------------------------------------------

    def prepare(self, source: str | bytes | os.PathLike[str] | Mapping[str, JSON] | PreparedCron) -> PreparedCron:
        """Load and validate a CronWorkflow (a path, its text, or parsed data). Raises
        ``ValidationError`` with every problem; nothing is written."""
        if isinstance(source, PreparedCron):
            return source
        kwargs: dict[str, Any] = {
            "limits": self.limits,
            "strict": self.engine.strict,
            "executor_checks": self.engine.executor_checks(),
            "expression_check": check_expression,
            "variable_namespaces": self.engine.variable_namespaces(),
            # A cron's references are judged at create against the engine's store, or an empty one.
            "template_lookup": self.engine.template_lookup or no_templates,
            "expected_kind": KIND_CRON,
        }
        name = "<input>"
        if isinstance(source, str) and "\n" not in source and os.path.isfile(source):
            source = Path(source)  # a path given as text
        if isinstance(source, os.PathLike):
            name = os.fspath(source)
            result = load_file(source, **kwargs)
        elif isinstance(source, Mapping):
            result = load_document(orjson.dumps(dict(source)), fmt="json", **kwargs)
        else:
            result = load_document(source, **kwargs)
        document = result.document
        if not isinstance(document, CronWorkflow) or document.spec is None:
            raise ValidationError(result.problems, name)
        problems = list(result.problems)
        if document.spec.timezone == "Local":
            zone = host_timezone()
            document = evolve(document, spec=evolve(document.spec, timezone=zone))
            problems.append(warning("W-CRON-LOCAL-TZ", "$.spec.timezone", f'timezone Local resolved to "{zone}"'))
        return PreparedCron(dump_document(document), tuple(problems))

    # --- management (§12.6) ----------------------------------------------------------------

    def create(self, source: str | bytes | os.PathLike[str] | Mapping[str, JSON] | PreparedCron) -> str:
        """Validate and register a cron; it ticks from now on unless suspended. Returns its name."""
        prepared = self.prepare(source)
        warnings = tuple(f"{p.path}: {p.code}: {p.message}" for p in prepared.warnings)
        stream = cron_stream(prepared.namespace, prepared.name)
        cron_id = f"{prepared.namespace}/{prepared.name}"
        at = self._now()
        with self._lock:
            self._commit_one(stream, ev.CronRegistered(cron_id, at, prepared.document, warnings))
        return prepared.name

    def get(self, name: str, namespace: str | None = None) -> dict[str, JSON]:
        """Spec, status ``{lastScheduleTime, lastRunId}`` and the runs in creation order."""
        with self._lock:
            self.process_finished()
            state = self._require(self._stream(name, namespace))
            return self._view(state)

    def list(self) -> builtins.list[dict[str, JSON]]:
        with self._lock:
            self.process_finished()
            rows = []
            for stream in self._streams():
                state = self._load(stream).state
                if state is None or state.deleted:
                    continue
                view = self._view(state)
                spec = view["spec"]
                rows.append(
                    {
                        "name": state.name,
                        "namespace": state.namespace,
                        "schedule": spec.get("schedule"),
                        "timezone": spec.get("timezone"),
                        "concurrencyPolicy": spec.get("concurrencyPolicy"),
                        "suspend": bool(spec.get("suspend")),
                        "lastScheduleTime": view["status"]["lastScheduleTime"],
                        "nextScheduleTime": view["status"]["nextScheduleTime"],
                        "active": len(view["status"]["active"]),
                        "runs": len(view["runs"]),
                    }
                )
            return rows

    def update(
        self,
        name: str,
        namespace: str | None = None,
        *,
        document: str | bytes | os.PathLike[str] | Mapping[str, JSON] | PreparedCron | None = None,
        schedule: str | None = None,
        timezone: str | None = None,
        concurrency_policy: str | None = None,
        suspend: bool | None = None,
    ) -> dict[str, JSON]:
        """Change every field but ``workflowSpec`` (``E-CRON-SPEC-IMMUTABLE``). The flags
        apply on top of ``document`` (or of the stored document); the result is validated
        as a whole, so a bad schedule is refused with its §3.3.10 problem."""
        stream = self._stream(name, namespace)
        with self._lock:
            state = self._require(stream)
            if document is not None:
                base = copy.deepcopy(self.prepare(document).document)
                metadata = base.get("metadata") or {}
                given = (metadata.get("namespace") or DEFAULT_NAMESPACE, metadata.get("name"))
                if given != (state.namespace, state.name):
                    raise CronError(
                        "E-CRON-NAME-MISMATCH",
                        f"the document is cron {given[0]}/{given[1]}, not {state.cron_id}; name and namespace "
                        "cannot be changed",
                    )
            else:
                base = copy.deepcopy(state.document)
            spec = base.setdefault("spec", {})
            for key, value in (
                ("schedule", schedule),
                ("timezone", timezone),
                ("concurrencyPolicy", concurrency_policy),
                ("suspend", suspend),
            ):
                if value is not None:
                    spec[key] = value
            prepared = self.prepare(base)
            self._commit_one(stream, ev.CronUpdated(self._now(), prepared.document))
            return self.get(state.name, state.namespace)

    def suspend(self, name: str, namespace: str | None = None) -> dict[str, JSON]:
        return self.update(name, namespace, suspend=True)

    def resume(self, name: str, namespace: str | None = None) -> dict[str, JSON]:
        """Ticks create runs again from the next scheduled time (§12.6)."""
        return self.update(name, namespace, suspend=False)

    def delete(self, name: str, namespace: str | None = None) -> None:
        """Stop ticking; the runs are kept."""
        stream = self._stream(name, namespace)
        with self._lock:
            self._commit_one(stream, ev.CronDeleted(self._now()))

    def trigger(self, name: str, namespace: str | None = None) -> dict[str, JSON]:
        """A manual tick at now (§12.2): every check but ``suspend``."""
        stream = self._stream(name, namespace)
        with self._lock:
            self.process_finished()
            self._settle(stream)
            at = self._now()
            trigger = ev.CronTicked(at, at, "manual")
            return _outcome(trigger, self._commit_one(stream, trigger))

    def backfill(
        self, name: str, start: str | datetime, end: str | datetime, namespace: str | None = None
    ) -> builtins.list[dict[str, JSON]]:
        """Runs for the unprocessed scheduled times in [start, end) (§12.5), oldest first.

        As SPEC says, backfill ignores ``suspend``, ``startingDeadlineSeconds`` and the
        ``concurrencyPolicy``: its runs are created as with ``Allow``."""
        from_ms, to_ms = _instant_ms(start, "--from"), _instant_ms(end, "--to")
        stream = self._stream(name, namespace)
        with self._lock:
            self.process_finished()
            self._require(stream)
            at = self._now()
            now_ms = self._now_ms()

            def inputs(state: CronState | None) -> builtins.list[ev.Event]:
                if state is None or state.deleted:
                    raise CronError(E_NOT_FOUND, f"cron workflow {_ref(name, namespace)} not found")
                times = plan_backfill(state, from_ms, to_ms, now_ms, self.limits)
                return [ev.CronTicked(format_ms(t), at, "backfill") for t in times]

            return [
                _outcome(trigger, decision)
                for trigger, decision in self._commit(stream, inputs)
                if decision.accepted and isinstance(trigger, ev.CronTicked)
            ]

    # --- ticking ---------------------------------------------------------------------------

    def tick(self) -> int:
        """Process every scheduled tick that is due by the clock, for every cron, oldest
        first, as a running engine does (a late one meets ``startingDeadlineSeconds``).
        Ticks missed while no engine ran are ``catch_up``'s: call it once at start, before
        the first tick (the ticker thread does). Returns how many ticks were processed."""
        with self._lock:
            self.process_finished()
            while self._unsettled:
                self._settle(self._unsettled.pop())
            count = 0
            for stream in self._streams():
                count += self._tick_cron(stream)
            return count

    def _tick_cron(self, stream: str) -> int:
        count = 0
        while True:
            state = self._load(stream).state
            if state is None:
                return count
            tick = next(due_ticks(state, self._now_ms()), None)
            if tick is None:
                return count
            self._settle(stream)
            # Quiet: another engine took the tick, or deleted the cron, since the state was read.
            decision = self._commit_one(
                stream, ev.CronTicked(format_ms(tick), self._now(), "scheduled"), quiet=(E_TICK_PROCESSED, E_NOT_FOUND)
            )
            count += 1 if decision.accepted else 0

    def catch_up(self) -> int:
        """At start (§12.5): first finish what a crash interrupted (``recover``), then, per
        cron, skip or process the ticks missed since its horizon by its catch-up policy.
        Returns how many missed ticks were processed."""
        with self._lock:
            self.recover()
            at = self._now()
            count = 0
            for stream in self._streams():

                def inputs(state: CronState | None) -> builtins.list[ev.Event]:
                    if state is None or state.deleted:
                        return []
                    return catchup_inputs(state, at, self.limits.catchup_runs)

                count += sum(
                    1
                    for trigger, decision in self._commit(stream, inputs)
                    if decision.accepted and isinstance(trigger, ev.CronTicked)
                )
            self._caught_up = True
            return count

    def recover(self) -> int:
        """Finish what a crash may have interrupted, for every cron: submit each decided
        run that does not exist (the idempotency key makes this safe against a run that
        does), cancel replaced runs still running, and record runs that finished while
        the cron did not hear of it. Returns how many runs were re-submitted."""
        with self._lock:
            self.process_finished()
            return sum(self._settle(stream) for stream in self._streams())

    def next_due_ms(self) -> int | None:
        """When the earliest scheduled tick of any cron is due (epoch ms)."""
        with self._lock:
            dues = [
                next_tick_ms(cached.state)
                for stream in self._streams()
                if (cached := self._load(stream)).state is not None
            ]
            found = [d for d in dues if d is not None]
            return min(found) if found else None

    def process_finished(self) -> int:
        """Record in their crons' streams the run completions the engine reported."""
        count = 0
        with self._lock:
            while self._finished:
                run_id, phase = self._finished.popleft()
                try:
                    cron = self.engine.get_state(run_id).cron
                except RunNotFound:
                    continue
                if not cron or not cron.get("name"):
                    continue
                stream = cron_stream(cron.get("namespace") or DEFAULT_NAMESPACE, cron["name"])
                decision = self._commit_one(
                    stream, ev.CronRunFinished(run_id, phase, self._now()), quiet=(IGNORED, E_NOT_FOUND)
                )
                count += 1 if decision.accepted else 0
        return count

    # --- the ticker thread ----------------------------------------------------------------

    def start(self) -> None:
        """Catch up once, then tick whenever a tick is due, a run finishes or the clock moves."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="aether-cron", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                if not self._caught_up:
                    self.catch_up()
                self.tick()
            except Exception:  # the ticker must survive anything; the next round retries
                log.exception("cron ticker error")
            try:
                due = self.next_due_ms()
            except Exception:
                log.exception("cron ticker error")
                due = None
            delay = self.POLL_SECONDS
            if due is not None:
                delay = min(delay, max(0.0, (due - self._now_ms()) / 1000))
            self._wake.wait(delay)

    def _on_run_finished(self, run_id: str, phase: Phase) -> None:
        self._finished.append((run_id, phase))
        self._wake.set()

    # --- internals --------------------------------------------------------------------------

    def _now(self) -> str:
        return format_ms(self._now_ms())

    def _now_ms(self) -> int:
        return datetime_to_ms(self.clock.now())

    def _streams(self) -> builtins.list[str]:
        return list(self.log.streams(CRON_STREAM_PREFIX))

    @staticmethod
    def _stream(name: str, namespace: str | None) -> str:
        if namespace is None and "/" in name:
            namespace, name = name.split("/", 1)
        return cron_stream(namespace or DEFAULT_NAMESPACE, name)

    def _require(self, stream: str) -> CronState:
        state = self._load(stream).state
        if state is None or state.deleted:
            raise CronError(E_NOT_FOUND, f"cron workflow {stream[len(CRON_STREAM_PREFIX) :]} not found")
        return state

    def _load(self, stream: str) -> Cached[CronState]:
        """The cron's state as of the log's latest version: the cached state plus the tail
        other writers (the CLI, a second engine) appended since."""
        return self.crons.load(stream, fresh=True)

    def _commit_one(self, stream: str, trigger: ev.Event, *, quiet: tuple[str, ...] = ()) -> Outcome:
        """Decide and record one input; a rejection raises unless its code is ``quiet``."""
        _trigger, decision = self._commit(stream, lambda _state: [trigger])[0]
        if decision.rejection is not None and decision.rejection.code not in quiet:
            raise CronError(decision.rejection.code, decision.rejection.message)
        return decision

    def _commit(self, stream: str, inputs_for: InputsFor) -> builtins.list[tuple[ev.Event, Outcome]]:
        """Decide ``inputs_for(state)`` in order through the stream processor: every accepted
        input is appended with its decision in one transaction, rejected ones leave no
        trace, and the effects are performed after the commit."""
        outcomes = self.crons.process([(stream, inputs_for)], fresh=True)
        return [(outcome.trigger, outcome) for outcome in outcomes]

    def _perform(self, stream: str, effect: Effect) -> None:
        try:
            if isinstance(effect, StartRun):
                self._start_run(stream, effect)
            elif isinstance(effect, CancelRun):
                self._cancel_run(stream, effect.run_id)
        except Exception:
            # The decision is durable; the next tick (or the next start) finishes the job.
            self._unsettled.add(stream)
            raise

    def _start_run(self, stream: str, effect: StartRun) -> None:
        try:
            self.engine.submit(
                effect.document,
                idempotency_key=effect.idempotency_key,
                cron=effect.cron,
                run_id=effect.run_id,
                source_name=stream,
            )
        except ValidationError as exc:
            # The run can never start (e.g. a template reference that no longer resolves).
            log.warning("cron %s: run %s rejected: %s", stream, effect.run_id, exc)
            self._commit_one(stream, CronRunStartFailed(effect.run_id, self._now(), str(exc)), quiet=(IGNORED,))

    def _cancel_run(self, stream: str, run_id: str) -> None:
        # Finished meanwhile, or never started: nothing to cancel.
        with contextlib.suppress(RequestRejected, RunNotFound):
            self.engine.cancel(run_id, reason=f"replaced by cron {stream[len(CRON_STREAM_PREFIX) :]}")

    def _settle(self, stream: str) -> int:
        """Bring the cron's unfinished runs in line with the engine before deciding: a run
        that finished is recorded, a decided run that does not exist is submitted, a
        replaced run still running is cancelled. Returns how many runs were submitted."""
        state = self._load(stream).state
        if state is None:
            return 0
        submitted = 0
        for run in state.active_runs():
            try:
                run_state = self.engine.get_state(run.run_id)
            except RunNotFound:
                effect = start_run(state, run.idempotency_key, run.run_id, format_ms(run.scheduled_ms), run.trigger)
                self._start_run(stream, effect)
                submitted += 1
                continue
            if run_state.terminal:
                self._commit_one(stream, ev.CronRunFinished(run.run_id, run_state.phase, self._now()), quiet=(IGNORED,))
            elif run.replaced:
                self._cancel_run(stream, run.run_id)
        return submitted

    def _run_phase(self, run_id: str, recorded: str | None) -> str:
        try:
            return self.engine.get_state(run_id).phase
        except RunNotFound:
            return recorded or "Pending"

    def _view(self, state: CronState) -> dict[str, JSON]:
        runs = []
        for run in state.runs_in_order():
            runs.append(
                {
                    "runId": run.run_id,
                    "scheduledTime": format_ms(run.scheduled_ms),
                    "trigger": run.trigger,
                    "phase": self._run_phase(run.run_id, run.phase),
                    "replaced": run.replaced,
                    "message": run.message,
                }
            )
        next_ms = next_tick_ms(state)
        return {
            "name": state.name,
            "namespace": state.namespace,
            "metadata": state.document.get("metadata") or {},
            "spec": state.document.get("spec") or {},
            "createdAt": format_ms(state.created_ms),
            "warnings": list(state.warnings),
            "status": {
                "lastScheduleTime": format_ms(state.last_schedule_ms) if state.last_schedule_ms is not None else None,
                "lastRunId": state.last_run_id,
                "active": [r["runId"] for r, run in zip(runs, state.runs_in_order(), strict=True) if run.active],
                "nextScheduleTime": format_ms(next_ms) if next_ms is not None else None,
                "ended": state.ended,
                "missedTicks": state.missed_total,
                "prunedRuns": state.pruned_total,
            },
            "runs": runs,
        }


def _outcome(trigger: ev.CronTicked, decision: Outcome) -> dict[str, JSON]:
    """What a tick came to: the run it started or the reason it was skipped."""
    for event in decision.events:
        if isinstance(event, ev.CronRunSubmitted):
            return {"scheduledTime": event.scheduled_time, "runId": event.run_id, "skipped": None}
        if isinstance(event, ev.CronTickSkipped):
            return {"scheduledTime": event.scheduled_time, "runId": None, "skipped": event.reason}
    return {"scheduledTime": trigger.scheduled_time, "runId": None, "skipped": None}


def _instant_ms(value: str | datetime, flag: str) -> int:
    if isinstance(value, datetime):
        return datetime_to_ms(value)
    try:
        return datetime_to_ms(parse_rfc3339(value))
    except ValueError as exc:
        raise CronError(E_BACKFILL_RANGE, f'{flag} "{value}": must be valid RFC3339: {exc}') from None


def _ref(name: str, namespace: str | None) -> str:
    return name if namespace is None else f"{namespace}/{name}"


def attach_cron_ticker(engine: Engine) -> CronService:
    """Start the cron ticker beside a started engine (``aether serve``): it catches up
    once, then processes ticks as they fall due. Call ``stop()`` on the result to end it."""
    service = CronService(engine)
    service.start()
    return service


__all__ = ["CronError", "CronService", "PreparedCron", "attach_cron_ticker", "host_timezone"]
