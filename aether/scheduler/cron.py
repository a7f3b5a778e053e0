"""The cron decider: ``decide_cron(state, trigger) -> CronDecision`` (SPEC §12,
ARCHITECTURE layer 6), plus the pure tick arithmetic the shell asks before it writes
inputs: which ticks are due, which missed ticks a catch-up processes, which times a
backfill covers.

Pure: no clock, IO or randomness. "Now" is the ``at`` of the input being decided, and a
run's id is derived from the tick's idempotency key (:func:`cron_run_id`), so replaying
a cron stream's inputs reproduces every decision, run ids included.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterator
from functools import lru_cache

from attrs import frozen

from aether.events import catalog as ev
from aether.events.cron_events import CronCatchupStarted, CronRunStartFailed
from aether.events.times import datetime_to_ms, format_ms, ms_to_datetime, parse_ms
from aether.model.limits import DEFAULT_LIMITS, Limits
from aether.model.schedule import Schedule, parse_schedule
from aether.reducers.cron import (
    FAILED_RUN_PHASES,
    SCHEDULED_TRIGGERS,
    CronState,
    apply_cron,
)
from aether.scheduler.effects import Effect
from aether.scheduler.outbox import cron_effects_of, run_document, start_info

E_NOT_FOUND = "E-CRON-NOT-FOUND"
E_EXISTS = "E-CRON-EXISTS"
E_SPEC_IMMUTABLE = "E-CRON-SPEC-IMMUTABLE"
E_TICK_PROCESSED = "E-CRON-TICK-PROCESSED"
E_BACKFILL_TOO_LARGE = "E-BACKFILL-TOO-LARGE"
E_BACKFILL_RANGE = "E-BACKFILL-RANGE"
IGNORED = "ignored"  # an input with nothing to record (a finish report the cron already has)


@frozen
class CronRejection:
    """The input is refused and nothing is written; the caller gets this as an error."""

    code: str
    message: str


@frozen
class CronDecision:
    events: tuple[ev.Event, ...]
    effects: tuple[Effect, ...]
    state: CronState | None
    rejection: CronRejection | None = None

    @property
    def accepted(self) -> bool:
        return self.rejection is None


class CronRequestError(Exception):
    """A request the shell refuses before writing anything (too large a backfill, …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# --- identity -------------------------------------------------------------------------------


def idempotency_key(namespace: str, name: str, scheduled_ms: int) -> str:
    """``cron:<namespace>/<name>@<scheduledTime>`` (§12.2 step 6)."""
    return f"cron:{namespace}/{name}@{format_ms(scheduled_ms)}"


def cron_run_id(name: str, key: str) -> str:
    """The run id of a tick: the cron's name and a digest of the idempotency key.

    Derived, not drawn from the id generator, so that the decision is a function of the
    cron's history alone: a replay, a restart or a second engine deciding the same tick
    all name the same run, and the key's namespace keeps equal names apart."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"{name}-{digest}"


# --- tick arithmetic -----------------------------------------------------------------------


@lru_cache(maxsize=512)
def _schedule(text: str) -> Schedule:
    return parse_schedule(text)


def ticks_between(state: CronState, after_ms: int, until_ms: int) -> Iterator[int]:
    """Scheduled times t with ``after < t <= until``, increasing, in epoch ms."""
    settings = state.settings
    after = ms_to_datetime(after_ms)
    until = ms_to_datetime(until_ms)
    for instant in _schedule(settings.schedule).ticks(settings.timezone, after, until):
        yield datetime_to_ms(instant)


def ticking(state: CronState | None) -> bool:
    """Whether the ticker still owes this cron scheduled ticks."""
    return state is not None and not state.deleted and not state.ended


def due_ticks(state: CronState, now_ms: int) -> Iterator[int]:
    """The scheduled ticks the ticker processes now: after the horizon, up to now, not
    processed already (a manual trigger or a backfill may have taken one)."""
    if not ticking(state):
        return
    for tick in ticks_between(state, state.horizon_ms, now_ms):
        if not state.is_processed(tick):
            yield tick


def next_tick_ms(state: CronState) -> int | None:
    """When the ticker next owes this cron a tick, if ever."""
    if not ticking(state):
        return None
    settings = state.settings
    after = ms_to_datetime(state.horizon_ms)
    found = _schedule(settings.schedule).next_after(settings.timezone, after)
    return None if found is None else datetime_to_ms(found)


@frozen
class CatchupPlan:
    """§12.5 for one cron at one start: the missed ticks to process, oldest first, and
    how many missed ticks are left unprocessed (one ``missed`` skip records them)."""

    elapsed: bool  # some scheduled tick lies in (horizon, now]: the start is worth recording
    process: tuple[int, ...]
    missed: int
    newest_missed_ms: int | None


def plan_catchup(state: CronState, now_ms: int, catchup_limit: int) -> CatchupPlan:
    """Missed ticks are the scheduled times in (horizon, now] never processed; the horizon
    is the cron's creation time or the latest tick the ticker or a catch-up handled.

    ``none`` processes none; ``latest`` the most recent if it is within the window;
    ``all`` those within the window, oldest first, at most the newest ``catchup_limit``."""
    if not ticking(state):
        return CatchupPlan(False, (), 0, None)
    settings = state.settings
    window = settings.catchup_window_ms
    floor = None if window is None else now_ms - window
    keep = {"none": 0, "latest": 1}.get(settings.catchup, catchup_limit)
    chosen: deque[int] = deque()
    newest_missed: int | None = None
    count = 0
    elapsed = False
    for tick in ticks_between(state, state.horizon_ms, now_ms):
        elapsed = True
        if state.is_processed(tick):
            continue
        count += 1
        if keep > 0 and (floor is None or tick >= floor):
            chosen.append(tick)
            if len(chosen) > keep:  # ticks come oldest first: the oldest chosen drops out
                dropped = chosen.popleft()
                newest_missed = dropped if newest_missed is None else max(newest_missed, dropped)
        else:
            newest_missed = tick  # the newest tick seen so far
    return CatchupPlan(elapsed, tuple(chosen), count - len(chosen), newest_missed)


def plan_backfill(
    state: CronState, from_ms: int, to_ms: int, now_ms: int, limits: Limits = DEFAULT_LIMITS
) -> tuple[int, ...]:
    """§12.5 backfill: every scheduled time in [from, to) within [startAt, endAt] and not
    processed, oldest first. Times after now are left to the ticker. More than
    L-BACKFILL times is refused as a whole (``E-BACKFILL-TOO-LARGE``)."""
    if from_ms >= to_ms:
        message = f"backfill range is empty: --from {format_ms(from_ms)} is not before --to {format_ms(to_ms)}"
        raise CronRequestError(E_BACKFILL_RANGE, message)
    settings = state.settings
    low = from_ms - 1  # ticks_between is (after, until]; [from, to) is (from - 1ms, to - 1ms]
    high = min(to_ms - 1, now_ms)
    if settings.start_ms is not None:
        low = max(low, settings.start_ms - 1)
    if settings.end_ms is not None:
        high = min(high, settings.end_ms)
    times: list[int] = []
    if low < high:
        for tick in ticks_between(state, low, high):
            if state.is_processed(tick):
                continue
            times.append(tick)
            if len(times) > limits.backfill_times:
                raise CronRequestError(
                    E_BACKFILL_TOO_LARGE,
                    f"backfill of cron {state.cron_id} from {format_ms(from_ms)} to {format_ms(to_ms)} covers more "
                    f"than {limits.backfill_times} scheduled times (L-BACKFILL); split the range",
                )
    return tuple(times)


# --- deciding -------------------------------------------------------------------------------


class _Ctx:
    def __init__(self, state: CronState) -> None:
        self.state = state
        self.events: list[ev.Event] = []
        self.effects: list[Effect] = []

    def emit(self, event: ev.Event) -> None:
        self.state = apply_cron(self.state, event)
        self.events.append(event)
        self.effects.extend(cron_effects_of(self.state, event))

    def decision(self) -> CronDecision:
        return CronDecision(tuple(self.events), tuple(self.effects), self.state)


def _reject(state: CronState | None, code: str, message: str) -> CronDecision:
    return CronDecision((), (), state, CronRejection(code, message))


def _live(state: CronState | None) -> bool:
    return state is not None and not state.deleted


def decide_cron(state: CronState | None, trigger: ev.Event) -> CronDecision:
    """Decide one input of a cron's stream. The shell appends ``[trigger, *events]`` with
    the stream's expected version, then performs the effects; a rejected input writes
    nothing."""
    if isinstance(trigger, ev.CronRegistered):
        if _live(state):
            assert state is not None
            return _reject(state, E_EXISTS, f"cron workflow {state.cron_id} already exists")
        return CronDecision((), (), apply_cron(state, trigger))
    if isinstance(trigger, ev.CronRunFinished | CronRunStartFailed):
        return _on_run_finished(state, trigger)
    if not _live(state):
        return _reject(state, E_NOT_FOUND, "cron workflow not found")
    assert state is not None
    if isinstance(trigger, ev.CronUpdated):
        return _on_updated(state, trigger)
    if isinstance(trigger, ev.CronDeleted):
        return CronDecision((), (), apply_cron(state, trigger))
    if isinstance(trigger, ev.CronTicked):
        return _on_ticked(state, trigger)
    if isinstance(trigger, CronCatchupStarted):
        return _on_catchup(state, trigger)
    raise ValueError(f"{trigger.TYPE} is not an input of a cron")


def _on_updated(state: CronState, trigger: ev.CronUpdated) -> CronDecision:
    # Both documents are stored with defaults applied, so comparing the parsed JSON is
    # the normalized comparison of §12.6 (key order and spelling of defaults ignored).
    old = (state.document.get("spec") or {}).get("workflowSpec")
    new = (trigger.document.get("spec") or {}).get("workflowSpec")
    if old != new:
        return _reject(state, E_SPEC_IMMUTABLE, "spec.workflowSpec is immutable")
    return CronDecision((), (), apply_cron(state, trigger))


def _on_run_finished(state: CronState | None, trigger: ev.CronRunFinished | CronRunStartFailed) -> CronDecision:
    run = state.run(trigger.run_id) if state is not None else None
    if state is None or run is None or not run.active:
        return _reject(state, IGNORED, f"run {trigger.run_id} is not an unfinished run of this cron")
    ctx = _Ctx(apply_cron(state, trigger))
    if not ctx.state.deleted:  # a deleted cron's runs are kept (§12.6)
        _prune(ctx)
    return ctx.decision()


def _on_ticked(state: CronState, trigger: ev.CronTicked) -> CronDecision:
    scheduled = parse_ms(trigger.scheduled_time)
    if state.is_processed(scheduled):
        outcome = state.processed[scheduled]
        message = f"tick {format_ms(scheduled)} of cron {state.cron_id} was already processed ({outcome})"
        return _reject(state, E_TICK_PROCESSED, message)
    ctx = _Ctx(apply_cron(state, trigger))
    reason = _skip_reason(ctx.state, trigger, scheduled)
    if reason is None:
        _submit(ctx, trigger.trigger, scheduled)
    else:
        ctx.emit(ev.CronTickSkipped(format_ms(scheduled), reason, trigger.trigger))
    _prune(ctx)
    return ctx.decision()


def _skip_reason(state: CronState, trigger: ev.CronTicked, scheduled: int) -> str | None:
    """§12.2 checks 1 to 4, in order; backfill ignores suspend and the deadline, manual
    triggers ignore suspend (§12.2, §12.5)."""
    settings = state.settings
    kind = trigger.trigger
    if settings.suspend and kind in SCHEDULED_TRIGGERS:
        return "suspended"
    if settings.start_ms is not None and scheduled < settings.start_ms:
        return "before-start"
    if settings.end_ms is not None and scheduled > settings.end_ms:
        return "after-end"
    late_ms = parse_ms(trigger.at) - scheduled
    if kind != "backfill" and settings.deadline_ms is not None and late_ms > settings.deadline_ms:
        return "deadline"
    if kind != "backfill" and settings.policy == "Forbid" and state.active_runs():
        return "forbidden"
    return None


def _submit(ctx: _Ctx, kind: str, scheduled: int) -> None:
    state = ctx.state
    if kind != "backfill" and state.settings.policy == "Replace":
        # §12.2 check 5: cancel every unfinished run, in creation order, then continue.
        # A run already being replaced is asked again (cancel is idempotent) but recorded once.
        for run in state.active_runs():
            if not run.replaced:
                ctx.emit(ev.CronRunReplaced(run.run_id, format_ms(scheduled)))
    key = idempotency_key(state.namespace, state.name, scheduled)
    run_id = cron_run_id(state.name, key)
    scheduled_time = format_ms(scheduled)
    ctx.emit(ev.CronRunSubmitted(scheduled_time, run_id, kind, key))


def _prune(ctx: _Ctx) -> None:
    """§12.4: keep the newest N Succeeded and M Failed/Error/Timeout runs among the
    terminal ones; never Cancelled or unfinished runs. Pruned oldest first."""
    settings = ctx.state.settings
    kept_ok = kept_failed = 0
    doomed = []
    for run in reversed(ctx.state.runs_in_order()):
        if run.phase == "Succeeded":
            kept_ok += 1
            if kept_ok > settings.keep_succeeded:
                doomed.append(run)
        elif run.phase in FAILED_RUN_PHASES:
            kept_failed += 1
            if kept_failed > settings.keep_failed:
                doomed.append(run)
    for run in reversed(doomed):
        assert run.phase is not None
        ctx.emit(ev.RunPruned(run.run_id, run.phase))


def _on_catchup(state: CronState, trigger: CronCatchupStarted) -> CronDecision:
    plan = plan_catchup(state, parse_ms(trigger.at), trigger.catchup_limit)
    ctx = _Ctx(apply_cron(state, trigger))
    if plan.missed and plan.newest_missed_ms is not None:
        ctx.emit(ev.CronTickSkipped(format_ms(plan.newest_missed_ms), "missed", "catchup", plan.missed))
    return ctx.decision()


def catchup_inputs(state: CronState, at: str, catchup_limit: int) -> list[ev.Event]:
    """The inputs one catch-up writes for this cron: ``CronCatchupStarted`` and a
    ``CronTicked(catchup)`` per missed tick to process. Empty when no tick elapsed."""
    plan = plan_catchup(state, parse_ms(at), catchup_limit)
    if not plan.elapsed:
        return []
    inputs: list[ev.Event] = [CronCatchupStarted(at, catchup_limit)]
    inputs.extend(ev.CronTicked(format_ms(tick), at, "catchup") for tick in plan.process)
    return inputs


__all__ = [
    "CatchupPlan",
    "CronDecision",
    "CronRejection",
    "CronRequestError",
    "catchup_inputs",
    "cron_run_id",
    "decide_cron",
    "due_ticks",
    "idempotency_key",
    "next_tick_ms",
    "plan_backfill",
    "plan_catchup",
    "run_document",
    "start_info",
    "ticks_between",
]
