"""One stream processor: the shell's only path from an input to a recorded decision.

Every kind of stream (a run, a cron) is driven the same way:

1. load the stream's state: the cached one, else the newest snapshot plus the tail;
2. ``decide`` each input against it, folding as it goes;
3. append every input with its decision's events, in one transaction per batch, with
   the version the state was loaded at as the expected version;
4. on a conflict (another writer appended meanwhile) drop the cached states, reload and
   decide again, a bounded number of times (ARCHITECTURE rule 4);
5. only then perform the decisions' effects (rule 5).

Rejected inputs: a rejection is returned to the caller, who turns it into an error. The
input is written only when its decision records something — a run records every
rejection as an ``InputRejected`` fact, a cron's rejected request leaves no trace — and
a rejected input is never decided again.

What differs between kinds is data: a :class:`StreamKind` names the reducer, the
decider, how a stream is loaded and which effects its recorded events still owe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from attrs import frozen

from aether.events.catalog import Event
from aether.events.codec import decode, encode, unencodable_reason
from aether.scheduler.effects import Effect
from aether.store.base import ConcurrencyConflict, EventLog, PendingEvent
from aether.store.coordination import Claim

log = logging.getLogger("aether.stream")

S = TypeVar("S")
S_co = TypeVar("S_co", covariant=True)


class Refusal(Protocol):
    """Why an input was rejected (``Rejection``, ``CronRejection``)."""

    @property
    def code(self) -> str: ...

    @property
    def message(self) -> str: ...


class StreamDecision(Protocol[S_co]):
    """What the deciders of every kind return (``Decision``, ``CronDecision``)."""

    @property
    def events(self) -> tuple[Event, ...]: ...

    @property
    def effects(self) -> tuple[Effect, ...]: ...

    @property
    def state(self) -> S_co | None: ...

    @property
    def rejection(self) -> Refusal | None: ...


@frozen
class StreamKind(Generic[S]):
    """The parts of stream processing that depend on what the stream records."""

    name: str
    stream_of: Callable[[str], str]
    """The log's stream name for a key (a run id, a cron's ``namespace/name``)."""
    load: Callable[[EventLog, str, int | None], tuple[S | None, int]]
    """The state after ``to_version`` events (all if None) and its version: snapshot + tail."""
    reduce: Callable[[S | None, Event], S]
    decide: Callable[[S | None, Event], StreamDecision[S]]
    accepts_new: Callable[[Event], bool]
    """Whether an input may start a stream that has no events yet."""
    outstanding_effects: Callable[[str, S, Sequence[Event]], tuple[Effect, ...]] | None = None
    """The effects recorded events still owe once the stream stands at the given state."""
    finished: Callable[[S], bool] = lambda _state: False
    """A finished stream's cached state is dropped first when the cache is full."""
    unrecordable: Callable[[S | None, Event, str], StreamDecision[S]] | None = None
    """The decision to record instead when the decider's events cannot be stored (the
    reason given); None: the input is refused."""
    recordable_input: Callable[[Event, str], Event | None] = lambda _input, _reason: None
    """An input the log cannot store, replaced by one it can (a result whose values cannot
    be stored, as a failed result saying why); None: the input is refused."""
    record: Callable[[Event, StreamDecision[S]], Sequence[Event]] = lambda trigger, decision: (
        trigger,
        *decision.events,
    )
    """What the log records for an input and its decision (runs: the compact form)."""


@frozen
class Unrecordable:
    """Why an input was refused without being decided: neither it nor what it would
    decide can be stored in the log."""

    message: str
    code: str = "E-UNRECORDABLE"


def folded_from_the_start(
    reduce: Callable[[S | None, Event], S],
) -> Callable[[EventLog, str, int | None], tuple[S | None, int]]:
    """A ``StreamKind.load`` for short streams kept without snapshots (crons, templates):
    fold every event from the first."""

    def load(event_log: EventLog, stream: str, to_version: int | None) -> tuple[S | None, int]:
        state: S | None = None
        version = 0
        for stored in event_log.read(stream, 1, to_version):
            state = reduce(state, decode(stored))
            version = stored.version
        return state, version

    return load


@frozen
class Cached(Generic[S]):
    state: S | None
    version: int


@frozen
class Outcome:
    """What one input came to. The decision's state is not kept: a batch holds thousands
    of outcomes, and each state would keep a whole version of its run alive."""

    key: str
    trigger: Event
    events: tuple[Event, ...]
    effects: tuple[Effect, ...]
    rejection: Refusal | None

    @property
    def accepted(self) -> bool:
        return self.rejection is None


Inputs = Event | Callable[[S | None], Sequence[Event]]
"""One input, or a function of the stream's current state giving the inputs to decide in
order (asked again after a conflict, so that inputs planned from a state stay current)."""

AppendRequest = tuple[str, Sequence[PendingEvent], int]

FollowUp = Callable[[Sequence[Outcome]], tuple[list[tuple[str, Event]], list[Claim]]]
"""Given what a batch's inputs came to: inputs to decide after them and claims to write, in
the same transaction (an engine starting a task it dispatches to a waiting worker)."""


class StreamProcessor(Generic[S]):
    """Loads, decides, appends and performs for the streams of one kind.

    Not thread-safe: the owner (the engine, the cron service) serialises calls."""

    def __init__(
        self,
        event_log: EventLog,
        kind: StreamKind[S],
        perform: Callable[[str, Effect], None],
        *,
        conflict_retries: int = 5,
        cache_limit: int = 10_000,
        fence: Callable[[], str | None] = lambda: None,
    ) -> None:
        """``fence`` names the member whose registration every append requires (see
        ``EventLog.append_batch``); None appends unfenced."""
        self.log = event_log
        self.fence = fence
        # Version ranges this processor appended, per stream, until a reader of the log's
        # tail asks about them (``wrote``); consecutive appends share one range.
        self._written: dict[str, list[tuple[int, int]]] = {}
        self.kind = kind
        self.perform = perform
        self.conflict_retries = conflict_retries
        self.cache_limit = cache_limit
        self._cache: dict[str, Cached[S]] = {}

    # --- states ---------------------------------------------------------------------------

    def cached(self, key: str) -> Cached[S] | None:
        return self._cache.get(key)

    def forget(self, key: str) -> None:
        self._cache.pop(key, None)

    def load(self, key: str, *, fresh: bool = False) -> Cached[S]:
        """The stream's state as this processor last left it; with ``fresh``, first fold
        what other writers appended since (one version check when nothing moved)."""
        cached = self._cache.get(key)
        if cached is None:
            state, version = self.kind.load(self.log, self.kind.stream_of(key), None)
            return self._keep(key, Cached(state, version))
        if fresh:
            stream = self.kind.stream_of(key)
            if self.log.stream_version(stream) != cached.version:
                state, version = cached.state, cached.version
                for stored in self.log.read(stream, version + 1):
                    state = self.kind.reduce(state, decode(stored))
                    version = stored.version
                return self._keep(key, Cached(state, version))
        return cached

    def _keep(self, key: str, cached: Cached[S]) -> Cached[S]:
        self._cache[key] = cached
        if len(self._cache) > self.cache_limit:
            self._evict_finished()
        return cached

    def _evict_finished(self) -> None:
        finished = self.kind.finished
        for key in [key for key, cached in self._cache.items() if cached.state is not None and finished(cached.state)]:
            del self._cache[key]
            if len(self._cache) <= self.cache_limit // 2:
                break

    # --- deciding ---------------------------------------------------------------------------

    def process(
        self,
        items: Iterable[tuple[str, Inputs[S]]],
        *,
        extra_appends: Sequence[AppendRequest] = (),
        new_stream: bool = False,
        fresh: bool = False,
        claims: Sequence[Claim] = (),
        follow_up: FollowUp | None = None,
    ) -> list[Outcome]:
        """Decide every input, append everything in one transaction, then perform the
        effects in order. ``new_stream``: the inputs start streams that must not exist yet
        (a conflict then means they do, and is raised at once). ``fresh``: decide against
        what other writers appended too — needed where a rejection records nothing, since
        only an append would reveal a stale state. ``claims`` are written in the same
        transaction (``EventLog.append_batch``): ``ClaimsRefused`` leaves the
        processor as it was, for the caller to decide again without the refused ones.
        ``follow_up`` is asked, once the inputs are decided (and again on each retry), for
        more inputs to decide after them and claims to write, in the same transaction."""
        batch = list(items)
        for attempt in range(self.conflict_retries):
            try:
                return self._process_once(batch, extra_appends, new_stream, fresh, claims, follow_up)
            except ConcurrencyConflict:
                if new_stream or attempt == self.conflict_retries - 1:
                    raise
                log.info("%s: append conflict; reloading and deciding again", self.kind.name)
        raise AssertionError("unreachable")

    def _process_once(
        self,
        batch: list[tuple[str, Inputs[S]]],
        extra_appends: Sequence[AppendRequest],
        new_stream: bool,
        fresh: bool,
        claims: Sequence[Claim],
        follow_up: FollowUp | None,
    ) -> list[Outcome]:
        pending: dict[str, list[PendingEvent]] = {}
        base_versions: dict[str, int] = {}
        touched: dict[str, Cached[S]] = {}
        outcomes: list[Outcome] = []

        def decide_all(items: Iterable[tuple[str, Inputs[S]]]) -> None:
            for key, inputs in items:
                current = touched.get(key) or (Cached[S](None, 0) if new_stream else self.load(key, fresh=fresh))
                state, version = current.state, current.version
                triggers = [inputs] if isinstance(inputs, Event) else inputs(state)
                for trigger in triggers:
                    if state is None and not self.kind.accepts_new(trigger):
                        log.warning("%s: %s for unknown stream %s ignored", self.kind.name, trigger.TYPE, key)
                        continue
                    contained = self._decide_recordable(key, state, trigger)
                    if isinstance(contained, Unrecordable):
                        outcomes.append(Outcome(key, trigger, (), (), contained))
                        continue
                    trigger, decision, encoded = contained
                    outcomes.append(Outcome(key, trigger, decision.events, decision.effects, decision.rejection))
                    if decision.rejection is not None and not decision.events:
                        continue  # nothing to record
                    stream = self.kind.stream_of(key)
                    base_versions.setdefault(stream, current.version)
                    pending.setdefault(stream, []).extend(encoded)
                    state = decision.state
                    version += len(encoded)
                touched[key] = Cached(state, version)

        decide_all(batch)
        if follow_up is not None:
            more, more_claims = follow_up(outcomes)
            decide_all(more)
            claims = [*claims, *more_claims]
        requests: list[AppendRequest] = [(stream, events, base_versions[stream]) for stream, events in pending.items()]
        requests.extend(extra_appends)
        if requests or claims:
            fence = self.fence()
            # Only what is used is passed, so a log that knows neither fences nor claims
            # still serves an engine that needs neither.
            options: dict[str, Any] = {}
            if fence is not None:
                options["fence"] = fence
            if claims:
                options["claims"] = claims
            try:
                self.log.append_batch(requests, **options)
            except ConcurrencyConflict:
                for key in touched:
                    self._cache.pop(key, None)
                raise
            for stream, events in pending.items():  # this kind's streams, not the extra appends
                self._note_written(stream, base_versions[stream] + 1, base_versions[stream] + len(events))
        for key, cached in touched.items():
            self._keep(key, cached)
        for outcome in outcomes:
            for effect in outcome.effects:
                self.perform(outcome.key, effect)
        return outcomes

    def _decide_recordable(
        self, key: str, state: S | None, trigger: Event
    ) -> tuple[Event, StreamDecision[S], list[PendingEvent]] | Unrecordable:
        """Decide ``trigger`` and encode it with its decision, containing what the log
        cannot store to this one input: an input that cannot be stored is replaced by one
        that can (``recordable_input``) or refused; a decision whose events cannot be
        stored is replaced by the kind's ``unrecordable`` decision (a run ends in Error)
        or the input is refused. Never raises for a value: one poisoned value must not
        stall the batch, the loop, or the other streams."""
        try:
            encoded_trigger = encode(trigger)
        except Exception as exc:
            reason = f"{trigger.TYPE}: {exc}"
            replacement = self.kind.recordable_input(trigger, reason)
            if replacement is None:
                return self._refuse(key, trigger, f"the input cannot be recorded: {reason}")
            trigger = replacement
            try:
                encoded_trigger = encode(trigger)
            except Exception as again:
                return self._refuse(key, trigger, f"the input cannot be recorded: {trigger.TYPE}: {again}")
        decision = self.kind.decide(state, trigger)
        try:
            return trigger, decision, self._encoded_record(trigger, encoded_trigger, decision)
        except Exception as exc:
            reason = unencodable_reason(decision.events) or str(exc)
        if self.kind.unrecordable is None:
            return self._refuse(key, trigger, f"the decision cannot be recorded: {reason}")
        decision = self.kind.unrecordable(state, trigger, reason)
        try:
            return trigger, decision, self._encoded_record(trigger, encoded_trigger, decision)
        except Exception as exc:
            return self._refuse(key, trigger, f"the decision cannot be recorded: {reason}; nor can its end: {exc}")

    def _encoded_record(
        self, trigger: Event, encoded_trigger: PendingEvent, decision: StreamDecision[S]
    ) -> list[PendingEvent]:
        record = self.kind.record(trigger, decision)
        # The input recorded as it came (nothing folded into it) is already encoded.
        first = encoded_trigger if record[0] is trigger else encode(record[0])
        return [first, *(encode(event) for event in record[1:])]

    def _refuse(self, key: str, trigger: Event, message: str) -> Unrecordable:
        log.error("%s %s: %s refused: %s", self.kind.name, key, trigger.TYPE, message)
        return Unrecordable(message)

    # --- what recorded events owe --------------------------------------------------------

    def perform_recorded(
        self,
        key: str,
        events: Sequence[Event],
        upto_version: int,
        *,
        still_owed: Callable[[Effect], bool] = lambda _effect: True,
    ) -> None:
        """Perform what ``events`` — recorded by another writer, or before a crash — still
        owe, judged against the stream as it stands after ``upto_version``; ``still_owed``
        leaves out what the caller knows is already in hand (an attempt someone claimed)."""
        outstanding = self.kind.outstanding_effects
        if outstanding is None or not events:
            return
        state, version = self.kind.load(self.log, self.kind.stream_of(key), upto_version)
        if state is None:
            return
        self._keep(key, Cached(state, version))
        for effect in outstanding(key, state, events):
            if still_owed(effect):
                self.perform(key, effect)

    # --- which events this processor wrote -----------------------------------------------

    def _note_written(self, stream: str, low: int, high: int) -> None:
        ranges = self._written.setdefault(stream, [])
        if ranges and ranges[-1][1] + 1 == low:
            ranges[-1] = (ranges[-1][0], high)
        else:
            ranges.append((low, high))

    def wrote(self, stream: str, version: int) -> bool:
        """Whether event ``version`` of ``stream`` was appended by this processor (asked in
        version order per stream, as a reader of the log's tail asks; what is asked about
        is forgotten). Not the cached version: after a conflict the cache also holds what
        another writer appended, and that is still foreign."""
        ranges = self._written.get(stream)
        if not ranges:
            return False
        while ranges and ranges[0][1] < version:
            ranges.pop(0)
        found = bool(ranges) and ranges[0][0] <= version <= ranges[0][1]
        if found and ranges[0][1] == version:
            ranges.pop(0)
        elif found:
            ranges[0] = (version + 1, ranges[0][1])
        if not ranges:
            self._written.pop(stream, None)
        return found


__all__ = [
    "Cached",
    "Outcome",
    "Refusal",
    "StreamDecision",
    "StreamKind",
    "StreamProcessor",
    "Unrecordable",
    "folded_from_the_start",
]
