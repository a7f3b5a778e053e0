"""The read side: everything ``aether`` shows about runs, read the cheapest way that is right.

The projector keeps read models (the ``runs`` and ``phase_history`` tables, the view
history) beside the log. Reading them is far cheaper than folding a run again, but they
may lag behind the log, or be unable to reach it (an event that no longer folds). One
policy decides, for every read that has a read model:

1. the read models already reflect the point asked for: read them;
2. they do not yet: bring them up to the log, then read them;
3. there are none (an in-memory engine), or they cannot be brought up to the log: fold
   the run from the log, and remember why (``fallback_reason``) so the caller can say so.

Every answer equals what folding the log gives; only the cost differs. The SQL lives in
the store (``aether.store.read_queries``, ``aether.store.audit``,
``aether.store.view_history_reader``); time travel, which follows the same policy, is
``aether.runtime.time_travel_queries``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

from attrs import frozen

from aether.events.streams import run_stream
from aether.history.transfer import export_lines
from aether.model.json_value import JSON
from aether.projections.history_entries import HistoryEntry, iter_history
from aether.reducers.state import RunState
from aether.runtime.engine import Engine, RunNotFound
from aether.store.audit import iter_phase_history
from aether.store.coordination import Coordination, Member
from aether.store.postgres_connect import is_postgres_url
from aether.store.projector import ProjectionError, Projector, projected_in_memory
from aether.store.read_model_check import Damage, read_model_damage
from aether.store.read_queries import EVERY_RUN, RunFilter, listed_runs
from aether.store.task_logs import TaskLogChunk, TaskLogStore


class NoTaskLogs(LookupError):
    """The engine's log keeps no task logs."""


class NoReadModels(LookupError):
    """The engine keeps no read models (an in-memory engine), and the question is about them."""


@frozen
class ProjectionStatus:
    position: int  # the log position the read models reflect
    behind: int  # events of the log they do not reflect yet
    damage: tuple[Damage, ...] = ()  # where the tables disagree with the log up to position


@frozen
class RunOwnership:
    owner: Member | None  # the engine holding the run's lease; None: no live engine does
    leased: bool  # False: the run was never leased (it waits for a serve to discover it)
    workers: dict[str, str]  # node id -> worker id of its open attempt


class QueryService:
    """Reads about one engine's runs (see the module docstring for the policy)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Why the read models could not be used (they cannot reach the end of the log):
        # reads fold the log from then on.
        self.fallback_reason: str | None = None

    # --- the policy ----------------------------------------------------------------------

    def read_models_reach(self, run_id: str, version: int) -> bool:
        """Whether the read models reflect event ``version`` of the run, after catching them
        up with the log if they did not yet. False without read models, or when they cannot
        be caught up (``fallback_reason`` then says why)."""
        if self.engine.projector is None or self.fallback_reason is not None:
            return False
        # Catching up may mean loading a large run another process is driving: skip it
        # when the point is already projected.
        if self._projected(run_id, version):
            return True
        try:
            self.engine.catch_up_projections()
        except ProjectionError as exc:
            self.fallback_reason = str(exc)
            return False
        return True

    def _projected(self, run_id: str, version: int) -> bool:
        """Whether the read models already reflect event ``version`` of the run."""
        projector = self.engine.projector
        event = next(iter(self.engine.log.read(run_stream(run_id), version, version)), None)
        return projector is not None and event is not None and projector.stored_position() >= event.position

    # --- runs ----------------------------------------------------------------------------

    def last_version(self, run_id: str) -> int:
        """The number of the run's last event; :class:`RunNotFound` if it has none."""
        last = self.engine.log.stream_version(run_stream(run_id))
        if last == 0:
            raise RunNotFound(run_id)
        return last

    def runs(self, run_filter: RunFilter = EVERY_RUN) -> list[dict[str, JSON]]:
        """The runs ``run_filter`` keeps (every run by default), in creation order (``aether
        list``; newest first with a limit), from the read models brought up to the log,
        without the runs a cron's history limits pruned (SPEC §12.4)."""
        projector = self._projector()
        try:
            self.engine.catch_up_projections()
        except ProjectionError as exc:
            if not projector.read_only:
                raise
            # A read-only database's tables lag: fold the log into private ones instead.
            self.fallback_reason = str(exc)
            return listed_runs(projected_in_memory(self.engine.log, self.engine.snapshots), run_filter)
        return listed_runs(projector.db, run_filter)

    def get(self, run_id: str) -> dict[str, JSON]:
        """The run view as it stands now (``aether get``)."""
        return self.engine.get(run_id)

    def latest_state(self, run_id: str) -> tuple[RunState, int]:
        """The run and its last event's version as the log holds them now, with what other
        processes (a serve, workers) appended since this service last looked folded in:
        one version check when nothing moved, so ``aether wait`` polls it cheaply."""
        loaded = self.engine.runs.load(run_id, fresh=True)
        if loaded.state is None:
            self.engine.runs.forget(run_id)
            raise RunNotFound(run_id)
        return loaded.state, loaded.version

    def ownership(self, run_id: str) -> RunOwnership:
        """Who acts on the run now: the engine holding its lease, and the worker of each
        open attempt (from its recorded start, else from its claim). Not part of the log:
        it says who may act, not what happened."""
        state = self.engine.get_state(run_id)
        coordination = getattr(self.engine.log, "coordination", None)
        if not isinstance(coordination, Coordination) or state.terminal:
            return RunOwnership(None, False, {})
        lease = coordination.lease(run_id)
        claimed = {claim.assignment_id: claim.worker_id for claim in coordination.claims(run_id)}
        workers: dict[str, str] = {}
        for assignment_id, node_id in state.open_attempts.items():
            attempt = state.node(node_id).current_attempt
            worker = (attempt.worker_id if attempt is not None else "") or claimed.get(assignment_id, "")
            if worker:
                workers[node_id] = worker
        return RunOwnership(None if lease is None else lease.owner, lease is not None, workers)

    def history(
        self, run_id: str, *, phases_only: bool = False, node: str | None = None, after: int = 0
    ) -> Iterator[HistoryEntry]:
        """The entries ``aether history`` prints, in order.

        The audit trail (``phases_only``) is read from the ``phase_history`` read model when
        the policy allows: the projector has already folded every event, and its rows are
        the entries ``iter_history`` would yield (``aether.store.audit``). The full history
        streams and summarises the events themselves, which no table holds more cheaply.
        ``after``: only the entries of the events after that one."""
        if not phases_only or self.engine.projector is None:
            entries = iter_history(self.engine.events(run_id), phases_only=phases_only, node=node)
        elif not self.read_models_reach(run_id, self.last_version(run_id)):
            entries = iter_history(self.engine.events(run_id), phases_only=True, node=node)
        else:
            return iter_phase_history(self.engine.projector.db, run_id, node=node, after=after)
        return (entry for entry in entries if entry.seq > after) if after else entries

    def export(self, run_id: str) -> Iterator[bytes]:
        """The run's history as the JSON Lines of ``aether export`` (no line ends)."""
        self.last_version(run_id)  # raises RunNotFound for a run without events
        stream = run_stream(run_id)
        return export_lines(stream, self.engine.log.read(stream))

    # --- task logs -----------------------------------------------------------------------

    def task_log(
        self,
        run_id: str,
        node_id: str | None = None,
        attempt: int | None = None,
        after: Mapping[tuple[str, int], int] | None = None,
    ) -> list[TaskLogChunk]:
        """What the run's tasks wrote (``aether logs``): the chunks of every attempt, or of
        ``node_id``'s, or of its attempt ``attempt``, attempt by attempt in the order they
        began writing, each in ``seq`` order. ``after`` holds the last ``seq`` already read
        of each (node id, attempt); only newer chunks are returned. Not part of the event
        log: the workers store it beside it (``aether.store.task_logs``)."""
        self.last_version(run_id)  # raises RunNotFound for a run without events
        store = self._task_logs()
        seen = after or {}
        chunks: list[TaskLogChunk] = []
        for logged in store.attempts(run_id, node_id):
            if attempt is not None and logged.attempt != attempt:
                continue
            last_read = seen.get((logged.node_id, logged.attempt), 0)
            if logged.last_seq > last_read:
                chunks.extend(store.read(run_id, logged.node_id, logged.attempt, last_read))
        return chunks

    def task_log_waiter(self) -> Callable[[float], object]:
        """What to wait on between two reads of a task log being written: on PostgreSQL
        it returns early when a worker stores a chunk (``aether_logs``)."""
        url = getattr(self.engine.log, "url", None)
        if isinstance(url, str) and is_postgres_url(url):
            from aether.store.postgres_notify import Listener
            from aether.store.postgres_task_logs import LOGS_CHANNEL

            return Listener(url, [LOGS_CHANNEL]).wait
        return time.sleep

    def _task_logs(self) -> TaskLogStore:
        store: TaskLogStore | None = getattr(self.engine.log, "task_logs", None)
        if store is None:
            raise NoTaskLogs("this database keeps no task logs")
        return store

    # --- the read models themselves ------------------------------------------------------

    def projection_status(self) -> ProjectionStatus:
        projector = self._projector()
        damage = tuple(read_model_damage(projector.db, projector.stored_position))
        return ProjectionStatus(projector.position, projector.behind(), damage)

    def rebuild_projections(self) -> int:
        """Drop the read models and refold them from the whole log; returns the events folded."""
        return self._projector().rebuild()

    def _projector(self) -> Projector:
        if self.engine.projector is None:
            raise NoReadModels("this engine keeps no read models (an in-memory event log)")
        return self.engine.projector
