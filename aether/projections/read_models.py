"""The read models people query, as SQL tables: ``runs``, ``tasks``, ``phase_history``.

A read model is a handler: it declares its tables and turns each change of a run (the
event, the states before and after it, the phase transitions it caused) into rows. The
projector owns reading the log, folding, batching and transactions; adding a table
(``cron_history`` once cron streams are projected) is one more handler.

Rows are built from the reducer's state and the run view (``views.py``), never from the
event's fields alone, so a table can only say what the state says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import orjson

from aether.events.catalog import Event
from aether.events.times import format_ms
from aether.model.json_value import JSON
from aether.projections.read_model_base import ReadModel, Row, RowSink, RunChange, TableSpec
from aether.projections.view_history import ViewHistoryModel
from aether.projections.views import node_view, run_view
from aether.reducers.copying import replace
from aether.reducers.state import EMPTY_MAP, NodeState, RunState

# --- helpers ----------------------------------------------------------------------------------


def _json(value: JSON) -> str:
    return orjson.dumps(value).decode()


def _time(text: str) -> str | None:
    # The view writes "" for "not yet"; a table says NULL so "IS NULL" queries work.
    return text or None


def _time_ms(ms: int | None) -> str | None:
    return format_ms(ms) if ms is not None else None


# --- runs -------------------------------------------------------------------------------------

RUNS = TableSpec(
    "runs",
    (
        ("run_id", "TEXT NOT NULL"),
        ("name", "TEXT NOT NULL"),
        ("namespace", "TEXT NOT NULL"),
        ("phase", "TEXT NOT NULL"),
        ("message", "TEXT NOT NULL"),
        ("created_at", "TEXT"),
        ("started_at", "TEXT"),
        ("finished_at", "TEXT"),
        ("progress", "TEXT NOT NULL"),
        ("cron_name", "TEXT"),
        ("labels", "TEXT NOT NULL"),
        ("last_version", "INTEGER NOT NULL"),
    ),
    ("run_id",),
    (("phase",), ("namespace", "name")),
)


def run_row(state: RunState, version: int, terminal_nodes: int) -> Row:
    # run_view of a node-less copy: every run field exactly as the view shows it, without
    # the O(nodes) node list; progress comes from the projector's running count instead.
    view = run_view(replace(state, nodes=EMPTY_MAP, order=EMPTY_MAP, node_count=0))
    metadata = state.document.get("metadata") or {}
    cron_name = (state.cron or {}).get("name")
    return (
        view["runId"],
        view["name"],
        view["namespace"],
        view["phase"],
        view["message"],
        _time(view["createdAt"]),
        _time(view["startedAt"]),
        _time(view["finishedAt"]),
        f"{terminal_nodes}/{state.node_count}" if state.node_count else "",
        cron_name if isinstance(cron_name, str) else None,
        _json(metadata.get("labels") or {}),
        version,
    )


class RunsModel:
    tables: tuple[TableSpec, ...] = (RUNS,)

    def on_run_change(self, change: RunChange, sink: RowSink) -> None:
        state, version, terminal = change.after, change.version, change.terminal_nodes
        sink.put(RUNS.name, (change.run_id,), lambda: run_row(state, version, terminal))


# --- tasks ------------------------------------------------------------------------------------

TASKS = TableSpec(
    "tasks",
    (
        ("run_id", "TEXT NOT NULL"),
        ("node_id", "TEXT NOT NULL"),
        ("seq", "INTEGER NOT NULL"),
        ("parent_id", "TEXT"),
        ("task_name", "TEXT NOT NULL"),
        ("template_name", "TEXT NOT NULL"),
        ("template_type", "TEXT NOT NULL"),
        ("phase", "TEXT NOT NULL"),
        ("message", "TEXT NOT NULL"),
        ("depth", "INTEGER NOT NULL"),
        ("idx", "INTEGER"),
        ("retry_count", "INTEGER NOT NULL"),
        ("attempts", "INTEGER NOT NULL"),
        ("inputs", "TEXT NOT NULL"),
        ("outputs", "TEXT NOT NULL"),
        ("created_at", "TEXT"),
        ("started_at", "TEXT"),
        ("finished_at", "TEXT"),
    ),
    ("run_id", "node_id"),
    (("run_id", "seq"), ("phase",)),
)


def task_row(run_id: str, node: NodeState) -> Row:
    view = node_view(node)
    return (
        run_id,
        view["id"],
        node.seq,
        view["parentId"],
        view["taskName"],
        view["templateName"],
        view["templateType"],
        view["phase"],
        view["message"],
        view["depth"],
        view["index"],
        view["retryCount"],
        view["attempts"],
        _json(view["inputs"]),
        _json(view["outputs"]),
        _time(view["createdAt"]),
        _time(view["startedAt"]),
        _time(view["finishedAt"]),
    )


def _task_builder(run_id: str, node: NodeState) -> Callable[[], Row]:
    return lambda: task_row(run_id, node)


class TasksModel:
    tables: tuple[TableSpec, ...] = (TASKS,)

    def on_run_change(self, change: RunChange, sink: RowSink) -> None:
        after = change.after
        for node_id in change.nodes_changed():
            sink.put(TASKS.name, (change.run_id, node_id), _task_builder(change.run_id, after.node(node_id)))


# --- phase history ----------------------------------------------------------------------------

PHASE_HISTORY = TableSpec(
    "phase_history",
    (
        ("run_id", "TEXT NOT NULL"),
        ("seq", "INTEGER NOT NULL"),
        # The transition's place among those of its event, in the order ``iter_history``
        # gives them (nodes bottom up, then the run): the key reads them back in order.
        ("ordinal", "INTEGER NOT NULL"),
        ("at", "TEXT"),
        ("node_id", "TEXT NOT NULL"),
        ("from_phase", "TEXT"),
        ("to_phase", "TEXT NOT NULL"),
        ("message", "TEXT NOT NULL"),
        ("event_type", "TEXT NOT NULL"),
    ),
    ("run_id", "seq", "ordinal"),
    (("run_id", "node_id", "seq"),),
)


class PhaseHistoryModel:
    tables: tuple[TableSpec, ...] = (PHASE_HISTORY,)

    def on_run_change(self, change: RunChange, sink: RowSink) -> None:
        if not change.transitions:
            return
        at = _time_ms(change.after.now_ms)
        for ordinal, t in enumerate(change.transitions):
            sink.append(
                PHASE_HISTORY.name,
                (
                    change.run_id,
                    change.version,
                    ordinal,
                    at,
                    t.node_id,
                    t.from_phase,
                    t.to_phase,
                    t.message,
                    change.event.TYPE,
                ),
            )


# --- cron history -----------------------------------------------------------------------------

CRON_HISTORY = TableSpec(
    "cron_history",
    (
        ("cron", "TEXT NOT NULL"),  # <namespace>/<name>
        ("scheduled_time", "TEXT NOT NULL"),
        ("trigger", "TEXT NOT NULL"),
        ("outcome", "TEXT NOT NULL"),  # submitted | skipped
        ("reason", "TEXT"),  # why a tick was skipped
        ("skipped_count", "INTEGER NOT NULL"),  # ticks one "missed" record stands for
        ("run_id", "TEXT"),
        ("seq", "INTEGER NOT NULL"),
    ),
    ("cron", "seq"),
    (("cron", "scheduled_time"), ("run_id",)),
)

PRUNED_RUNS = TableSpec(
    "pruned_runs",
    (("run_id", "TEXT NOT NULL"), ("cron", "TEXT NOT NULL"), ("phase", "TEXT NOT NULL"), ("seq", "INTEGER NOT NULL")),
    ("run_id",),
)


class CronHistoryModel:
    """Every processed tick of every cron (submitted or skipped, and why), and the runs
    its history limits pruned (SPEC §12.4: they leave the listings)."""

    tables: tuple[TableSpec, ...] = (CRON_HISTORY, PRUNED_RUNS)

    def on_run_change(self, change: RunChange, sink: RowSink) -> None:
        return None

    def on_cron_event(self, cron: str, seq: int, event: Event, sink: RowSink) -> None:
        from aether.events import catalog as ev

        if isinstance(event, ev.CronRunSubmitted):
            sink.append(
                CRON_HISTORY.name, (cron, event.scheduled_time, event.trigger, "submitted", None, 1, event.run_id, seq)
            )
        elif isinstance(event, ev.CronTickSkipped):
            sink.append(
                CRON_HISTORY.name,
                (cron, event.scheduled_time, event.trigger, "skipped", event.reason, event.count, None, seq),
            )
        elif isinstance(event, ev.RunPruned):
            sink.put(PRUNED_RUNS.name, (event.run_id,), lambda: (event.run_id, cron, event.phase, seq))


def default_read_models() -> list[ReadModel]:
    return [RunsModel(), TasksModel(), PhaseHistoryModel(), CronHistoryModel(), ViewHistoryModel()]


def all_tables(models: Sequence[ReadModel]) -> list[TableSpec]:
    tables = [spec for model in models for spec in model.tables]
    names = [spec.name for spec in tables]
    if len(set(names)) != len(names):
        raise ValueError(f"two read models declare the same table: {names}")
    return tables
