"""What a recorded fact asks of the world: the one mapping from events to effects.

ARCHITECTURE rule 5 (outbox) holds by construction because every path that performs
effects derives them here from events that are already durable: ``decide`` for the
events it emits, the runtime for events another writer appended, and recovery at
start for events whose effect may have been lost with the process that wrote them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from aether.events import catalog as ev
from aether.model.json_value import JSON
from aether.reducers.cron import CronState
from aether.reducers.state import RunState
from aether.scheduler.effects import ArmTimer, CancelRun, CancelTask, Dispatch, Effect, Notify, RunFinished, StartRun

REUSE = "reuse"  # the dispatch reason of a result taken over from a forked run's origin


def effects_of(run_id: str, event: ev.Event) -> tuple[Effect, ...]:
    """The effects that recording ``event`` in run ``run_id`` asks for (often none)."""
    match event:
        case ev.TaskDispatched():
            # A forked run's reused result is recorded as an attempt that nobody executes.
            return () if event.reason == REUSE else (Dispatch(event.assignment),)
        case ev.TaskCancelRequested():
            return (CancelTask(event.assignment_id),)
        case ev.TimerArmed():
            return (ArmTimer(run_id, event.timer_id, event.due_ms),)
        case ev.HookFired():
            return (Notify(event.idempotency_key, event.payload),)
        case ev.WorkflowCompleted():
            return (RunFinished(run_id, event.phase),)
    return ()


def decision_effects(run_id: str, events: Iterable[ev.Event]) -> tuple[Effect, ...]:
    """The effects of a decision's events, in event order, except that the run's end is
    announced last: whoever waits for the run sees its hooks already delivered."""
    effects: list[Effect] = []
    finished: list[Effect] = []
    for event in events:
        for effect in effects_of(run_id, event):
            (finished if isinstance(effect, RunFinished) else effects).append(effect)
    effects.extend(finished)
    return tuple(effects)


def is_outstanding(state: RunState, effect: Effect) -> bool:
    """Whether ``effect``, asked for by an event of this run, may still be owed to the world
    once the run stands at ``state``: a dispatch whose attempt is still open and a timer
    that has not fired (both only while the run is unfinished), a hook not yet delivered,
    a cancel (the attempt may still be running somewhere), the end of a finished run
    (announcing it again is harmless, and a listener that missed it must hear it)."""
    if isinstance(effect, Dispatch):
        # open_attempts holds exactly the attempts dispatched and neither answered nor cancelled.
        return not state.terminal and effect.assignment.id in state.open_attempts
    if isinstance(effect, ArmTimer):
        timer = state.timers.get(effect.timer_id)
        return not state.terminal and timer is not None and not timer.fired
    if isinstance(effect, Notify):
        return effect.idempotency_key in state.undelivered_hooks
    if isinstance(effect, CancelTask):
        return True  # cancelling is idempotent, and a worker may still run the attempt
    if isinstance(effect, RunFinished):
        return state.terminal
    return False


def may_owe_effects(state: RunState) -> bool:
    """Whether :func:`outstanding_effects` can find anything for a run at ``state``: lets
    recovery skip reading the events of the runs that owe nothing."""
    if state.undelivered_hooks:
        return True
    if state.terminal:
        return False
    return bool(state.open_attempts) or any(not timer.fired for timer in state.timers.values())


def attempts_started_and_open(state: RunState) -> list[tuple[str, int]]:
    """(node id, attempt) of every attempt that recorded a start and no result, in dispatch
    order. When the process that ran them is gone, they can no longer report: a new engine
    records them as lost (SPEC §6.3) instead of running the same attempt number again."""
    if state.terminal:
        return []
    found: list[tuple[int, str, int]] = []
    for node_id in state.open_attempts.values():
        attempt = state.node(node_id).current_attempt
        if attempt is not None and attempt.started_ms is not None and attempt.code is None:
            found.append((attempt.dispatched_ms, node_id, attempt.number))
    return [(node_id, number) for _at, node_id, number in sorted(found, key=lambda f: (f[0], f[1]))]


def attempts_lost_at_takeover(
    state: RunState, claimed_by: Mapping[str, tuple[str, str]], alive: Callable[[str], bool], at: str
) -> list[ev.AttemptLost]:
    """The open attempts of a run being taken over that can no longer report, as the
    ``AttemptLost`` inputs to record (SPEC §6.3), in dispatch order.

    ``claimed_by`` maps an assignment id to the (worker id, member id) of its claim. An
    attempt whose claiming member is dead is lost (``claim-expired``); one that recorded a
    start but has no claim ran under an engine that kept no claims (``engine-stopped``); one
    never claimed was never executed, and is dispatched again as itself."""
    if state.terminal:
        return []
    found: list[tuple[int, str, ev.AttemptLost]] = []
    for assignment_id, node_id in state.open_attempts.items():
        attempt = state.node(node_id).current_attempt
        if attempt is None or attempt.code is not None:
            continue
        claim = claimed_by.get(assignment_id)
        if claim is not None:
            worker_id, member_id = claim
            if alive(member_id):
                continue
            lost = ev.AttemptLost(node_id, attempt.number, at, "claim-expired", worker_id, member_id)
        elif attempt.started_ms is not None:
            lost = ev.AttemptLost(node_id, attempt.number, at, "engine-stopped")
        else:
            continue
        found.append((attempt.dispatched_ms, node_id, lost))
    return [lost for _at, _node, lost in sorted(found, key=lambda f: (f[0], f[1]))]


def outstanding_effects(run_id: str, state: RunState, events: Iterable[ev.Event]) -> tuple[Effect, ...]:
    """The effects of recorded ``events`` that are still owed once the run stands at
    ``state``: what recovery re-issues at start, and what an engine performs for events
    another writer appended."""
    return tuple(effect for effect in decision_effects(run_id, events) if is_outstanding(state, effect))


# --- cron streams -----------------------------------------------------------------------


def cron_effects_of(state: CronState, event: ev.Event) -> tuple[Effect, ...]:
    """The effects that recording ``event`` in a cron's stream asks for, ``state`` being the
    cron right after it. A tick's run is started; under ``Replace`` every unfinished earlier
    run is asked to cancel first, in creation order — again for one that was replaced
    before and has not ended yet (cancelling is idempotent, §12.2 check 5)."""
    if not isinstance(event, ev.CronRunSubmitted):
        return ()
    effects: list[Effect] = []
    if event.trigger != "backfill" and state.settings.policy == "Replace":
        effects.extend(CancelRun(run.run_id) for run in state.active_runs() if run.run_id != event.run_id)
    effects.append(start_run(state, event.idempotency_key, event.run_id, event.scheduled_time, event.trigger))
    return tuple(effects)


def start_run(state: CronState, key: str, run_id: str, scheduled_time: str, trigger: str) -> StartRun:
    """The submission of a tick's run: the cron's workflow, under the tick's idempotency key."""
    return StartRun(key, run_id, run_document(state), start_info(state, scheduled_time, trigger))


def run_document(state: CronState) -> dict[str, JSON]:
    """The Workflow a tick submits: apiVersion and metadata of the cron, its workflowSpec."""
    document = state.document
    return {
        "apiVersion": document.get("apiVersion", "aether/v1"),
        "kind": "Workflow",
        "metadata": document.get("metadata") or {},
        "spec": (document.get("spec") or {}).get("workflowSpec") or {},
    }


def start_info(state: CronState, scheduled_time: str, kind: str) -> dict[str, JSON]:
    """The ``cron`` field the run records (§6.6 ``WorkflowSubmitted``)."""
    return {"name": state.name, "namespace": state.namespace, "scheduledTime": scheduled_time, "trigger": kind}


__all__ = [
    "attempts_lost_at_takeover",
    "attempts_started_and_open",
    "cron_effects_of",
    "decision_effects",
    "effects_of",
    "is_outstanding",
    "may_owe_effects",
    "outstanding_effects",
    "run_document",
    "start_info",
    "start_run",
]
