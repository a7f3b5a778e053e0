"""``apply_cron(state, event) -> state`` for a cron's stream ``cron:<namespace>/<name>``
(SPEC §12, ARCHITECTURE layer 4).

The state remembers every scheduled time the cron ever processed, so the history itself
refuses a second processing of one tick: ``CronRunSubmitted`` or ``CronTickSkipped`` for
a time already processed, or a ``CronTicked`` for it, raises :class:`IllegalTransition`.
That is what makes "never twice for one tick, never both skipped and started" a property
of the log rather than of the code that writes it (§12.3).

Pure: time comes from the events' ``at`` fields; collections that grow with the cron's
life are persistent maps, so applying one event copies only what it touches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeGuard

from attrs import frozen
from immutables import Map

from aether.events import catalog as ev
from aether.events.cron_events import CronCatchupStarted, CronRunStartFailed
from aether.events.phases import Phase
from aether.events.times import datetime_to_ms, parse_ms
from aether.model.durations import parse_duration_nanos
from aether.model.json_value import JSON
from aether.model.schedule import parse_rfc3339
from aether.reducers.copying import replace
from aether.reducers.errors import IllegalTransition

EMPTY_MAP: Map = Map()

TERMINAL_RUN_PHASES: frozenset[Phase] = frozenset({"Succeeded", "Failed", "Error", "Timeout", "Cancelled"})
FAILED_RUN_PHASES: frozenset[Phase] = frozenset({"Failed", "Error", "Timeout"})
SCHEDULED_TRIGGERS = frozenset({"scheduled", "catchup"})
TRIGGERS = frozenset({"scheduled", "catchup", "manual", "backfill"})


@frozen
class CronSettings:
    """The spec fields the decider reads, parsed once per registration or update from
    the stored wire document (defaults of SPEC §2.10 already applied)."""

    schedule: str
    timezone: str
    start_ms: int | None
    end_ms: int | None
    policy: str  # Allow | Forbid | Replace
    deadline_ms: int | None  # startingDeadlineSeconds
    keep_succeeded: int
    keep_failed: int
    suspend: bool
    catchup: str  # none | latest | all, with §12.5's default resolved
    catchup_window_ms: int | None  # None: unlimited

    @staticmethod
    def from_document(document: dict[str, JSON]) -> CronSettings:
        spec: dict[str, JSON] = document.get("spec") or {}
        deadline_s = spec.get("startingDeadlineSeconds")
        deadline_ms = deadline_s * 1000 if isinstance(deadline_s, int) and deadline_s > 0 else None
        catchup = spec.get("catchup") or ("latest" if deadline_ms is not None else "none")
        window_ms = deadline_ms
        if spec.get("catchupWindow"):
            nanos = parse_duration_nanos(spec["catchupWindow"])
            if nanos is not None and nanos > 0:
                window_ms = nanos // 1_000_000
        return CronSettings(
            schedule=spec.get("schedule") or "",
            timezone=spec.get("timezone") or "UTC",
            start_ms=_instant_ms(spec.get("startAt")),
            end_ms=_instant_ms(spec.get("endAt")),
            policy=spec.get("concurrencyPolicy") or "Allow",
            deadline_ms=deadline_ms,
            keep_succeeded=_limit(spec.get("successfulJobsHistoryLimit"), 3),
            keep_failed=_limit(spec.get("failedJobsHistoryLimit"), 1),
            suspend=bool(spec.get("suspend")),
            catchup=catchup,
            catchup_window_ms=window_ms,
        )


def _instant_ms(text: JSON) -> int | None:
    if not isinstance(text, str) or not text:
        return None
    return datetime_to_ms(parse_rfc3339(text))


def _limit(value: JSON, default: int) -> int:
    # An explicit 0 keeps none (§12.4); only an absent limit takes the default.
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


@frozen
class CronRun:
    """One run the cron started, as far as the cron's stream knows it."""

    run_id: str
    seq: int  # creation order within the cron
    scheduled_ms: int
    trigger: str
    idempotency_key: str
    phase: Phase | None = None  # the terminal phase once the run finished; None while it runs
    replaced: bool = False  # Replace asked for its cancellation
    message: str = ""

    @property
    def active(self) -> bool:
        return self.phase is None


@frozen
class CronState:
    namespace: str
    name: str
    document: dict[str, JSON]  # wire form, defaults applied
    settings: CronSettings
    created_ms: int
    warnings: tuple[str, ...] = ()
    # Every scheduled tick <= horizon was handled by the ticker or counted by a catch-up;
    # manual triggers and backfill do not move it (§12.5's missed ticks start here).
    horizon_ms: int = 0
    last_schedule_ms: int | None = None  # the scheduled (cron-matched) time, §12.3
    last_run_id: str | None = None
    processed: Map = EMPTY_MAP  # scheduled ms -> "run:<id>" or "skip:<reason>"
    runs: Map = EMPTY_MAP  # seq -> CronRun, the runs still in the history (not pruned)
    run_index: Map = EMPTY_MAP  # run id -> seq, for the runs in ``runs``
    run_seq: int = 0
    deleted: bool = False
    ended: bool = False  # a tick after endAt was seen: no further ticks (§12.2 check 3)
    missed_total: int = 0
    pruned_total: int = 0
    now_ms: int = 0  # time of the latest input
    event_count: int = 0

    @property
    def cron_id(self) -> str:
        return f"{self.namespace}/{self.name}"

    def is_processed(self, scheduled_ms: int) -> bool:
        return scheduled_ms in self.processed

    def runs_in_order(self) -> list[CronRun]:
        # The retained runs are few (history limits + active + cancelled); sorting them
        # gives creation order without relying on the map's iteration order.
        return [run for _seq, run in sorted(self.runs.items())]

    def active_runs(self) -> list[CronRun]:
        return [run for run in self.runs_in_order() if run.active]

    def run(self, run_id: str) -> CronRun | None:
        seq = self.run_index.get(run_id)
        return None if seq is None else self.runs[seq]


Handler = Callable[[CronState, Any], CronState]
_HANDLERS: dict[type[ev.Event], Handler] = {}


def _handles(event_type: type[ev.Event]) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[event_type] = fn
        return fn

    return register


def cron_stream(namespace: str, name: str) -> str:
    return f"cron:{namespace}/{name}"


def apply_cron(state: CronState | None, event: ev.Event) -> CronState:
    """Fold one event into a cron's state. ``state`` is None before the first
    ``CronRegistered``; a registration after ``CronDeleted`` starts a new incarnation."""
    if isinstance(event, ev.CronRegistered):
        return _registered(state, event)
    if state is None:
        raise IllegalTransition(f"a cron's history must start with CronRegistered, not {event.TYPE}")
    handler = _HANDLERS.get(type(event))
    if handler is None:
        raise IllegalTransition(f"{event.TYPE} does not belong in a cron's history")
    new_state = handler(state, event)
    return replace(new_state, event_count=state.event_count + 1)


def _registered(state: CronState | None, event: ev.CronRegistered) -> CronState:
    if state is not None and not state.deleted:
        raise IllegalTransition(f"cron {state.cron_id} is already registered")
    metadata = event.document.get("metadata") or {}
    at = parse_ms(event.at)
    fresh = CronState(
        namespace=metadata.get("namespace") or "default",
        name=metadata.get("name") or "",
        document=event.document,
        settings=CronSettings.from_document(event.document),
        created_ms=at,
        warnings=event.warnings,
        horizon_ms=at,
        now_ms=at,
        event_count=1,
    )
    if state is None:
        return fresh
    # A new incarnation keeps the processed times: the run idempotency key names only
    # (namespace, name, scheduled time), so a tick the old cron ran is still taken.
    return replace(
        fresh,
        processed=state.processed,
        run_seq=state.run_seq,
        event_count=state.event_count + 1,
    )


def _live(state: CronState, what: str) -> None:
    if state.deleted:
        raise IllegalTransition(f"{what} for deleted cron {state.cron_id}")


@_handles(ev.CronUpdated)
def _updated(state: CronState, event: ev.CronUpdated) -> CronState:
    _live(state, "CronUpdated")
    # A new endAt may lie after the tick that ended the cron; the next tick re-checks.
    return replace(
        state,
        document=event.document,
        settings=CronSettings.from_document(event.document),
        ended=False,
        now_ms=max(state.now_ms, parse_ms(event.at)),
    )


@_handles(ev.CronDeleted)
def _deleted(state: CronState, event: ev.CronDeleted) -> CronState:
    _live(state, "CronDeleted")
    return replace(state, deleted=True, now_ms=max(state.now_ms, parse_ms(event.at)))


@_handles(ev.CronTicked)
def _ticked(state: CronState, event: ev.CronTicked) -> CronState:
    _live(state, "CronTicked")
    if event.trigger not in TRIGGERS:
        raise IllegalTransition(f"unknown cron trigger {event.trigger!r}")
    scheduled = parse_ms(event.scheduled_time)
    if state.is_processed(scheduled):
        raise IllegalTransition(
            f"tick {event.scheduled_time} of cron {state.cron_id} was already processed ({state.processed[scheduled]})"
        )
    horizon = max(state.horizon_ms, scheduled) if event.trigger in SCHEDULED_TRIGGERS else state.horizon_ms
    return replace(state, horizon_ms=horizon, now_ms=max(state.now_ms, parse_ms(event.at)))


def _mark_processed(state: CronState, scheduled: int, outcome: str) -> Map:
    if state.is_processed(scheduled):
        raise IllegalTransition(
            f"tick at {scheduled} ms of cron {state.cron_id} processed twice "
            f"({state.processed[scheduled]}, then {outcome})"
        )
    processed: Map = state.processed.set(scheduled, outcome)
    return processed


@_handles(ev.CronTickSkipped)
def _skipped(state: CronState, event: ev.CronTickSkipped) -> CronState:
    if event.reason == "missed":
        # A count of ticks nobody processed (§12.5): they stay unprocessed, so a backfill
        # may still run them; the catch-up input already moved the horizon past them.
        return replace(state, missed_total=state.missed_total + event.count)
    scheduled = parse_ms(event.scheduled_time)
    processed = _mark_processed(state, scheduled, f"skip:{event.reason}")
    ended = state.ended or event.reason == "after-end"
    return replace(state, processed=processed, ended=ended)


@_handles(ev.CronRunSubmitted)
def _submitted(state: CronState, event: ev.CronRunSubmitted) -> CronState:
    _live(state, "CronRunSubmitted")
    if event.run_id in state.run_index:
        raise IllegalTransition(f"run {event.run_id} submitted twice by cron {state.cron_id}")
    scheduled = parse_ms(event.scheduled_time)
    processed = _mark_processed(state, scheduled, f"run:{event.run_id}")
    seq = state.run_seq
    run = CronRun(event.run_id, seq, scheduled, event.trigger, event.idempotency_key)
    last = scheduled if state.last_schedule_ms is None else max(state.last_schedule_ms, scheduled)
    return replace(
        state,
        processed=processed,
        runs=state.runs.set(seq, run),
        run_index=state.run_index.set(event.run_id, seq),
        run_seq=seq + 1,
        last_schedule_ms=last,
        last_run_id=event.run_id,
    )


def _known_run(state: CronState, run_id: str, what: str) -> CronRun:
    run = state.run(run_id)
    if run is None:
        raise IllegalTransition(f"{what}: run {run_id} is not in the history of cron {state.cron_id}")
    return run


def _with_run(state: CronState, run: CronRun) -> CronState:
    return replace(state, runs=state.runs.set(run.seq, run))


@_handles(ev.CronRunReplaced)
def _replaced(state: CronState, event: ev.CronRunReplaced) -> CronState:
    run = _known_run(state, event.run_id, "CronRunReplaced")
    if not run.active or run.replaced:
        raise IllegalTransition(f"run {run.run_id} cannot be replaced: it is finished or already replaced")
    return _with_run(state, replace(run, replaced=True))


def _is_terminal_run_phase(phase: str) -> TypeGuard[Phase]:
    return phase in TERMINAL_RUN_PHASES


def _finish(state: CronState, run_id: str, phase: str, message: str, what: str) -> CronState:
    run = _known_run(state, run_id, what)
    if not run.active:
        raise IllegalTransition(f"run {run_id} of cron {state.cron_id} finished twice ({run.phase}, then {phase})")
    if not _is_terminal_run_phase(phase):
        raise IllegalTransition(f"{what}: {phase!r} is not a terminal run phase")
    return _with_run(state, replace(run, phase=phase, message=message))


@_handles(ev.CronRunFinished)
def _run_finished(state: CronState, event: ev.CronRunFinished) -> CronState:
    new_state = _finish(state, event.run_id, event.phase, "", "CronRunFinished")
    return replace(new_state, now_ms=max(state.now_ms, parse_ms(event.at)))


@_handles(CronRunStartFailed)
def _start_failed(state: CronState, event: CronRunStartFailed) -> CronState:
    new_state = _finish(state, event.run_id, "Error", event.message, "CronRunStartFailed")
    return replace(new_state, now_ms=max(state.now_ms, parse_ms(event.at)))


@_handles(ev.RunPruned)
def _pruned(state: CronState, event: ev.RunPruned) -> CronState:
    run = _known_run(state, event.run_id, "RunPruned")
    if run.active or run.phase == "Cancelled":
        raise IllegalTransition(f"run {run.run_id} ({run.phase or 'unfinished'}) cannot be pruned")
    return replace(
        state,
        runs=state.runs.delete(run.seq),
        run_index=state.run_index.delete(run.run_id),
        pruned_total=state.pruned_total + 1,
    )


@_handles(CronCatchupStarted)
def _catchup_started(state: CronState, event: CronCatchupStarted) -> CronState:
    _live(state, "CronCatchupStarted")
    at = parse_ms(event.at)
    return replace(state, horizon_ms=max(state.horizon_ms, at), now_ms=max(state.now_ms, at))


def fold_cron(events: list[ev.Event] | tuple[ev.Event, ...]) -> CronState | None:
    state: CronState | None = None
    for event in events:
        state = apply_cron(state, event)
    return state


__all__ = [
    "CronRun",
    "CronSettings",
    "CronState",
    "apply_cron",
    "cron_stream",
    "fold_cron",
]
