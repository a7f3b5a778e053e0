"""Run-state snapshots: a cache of "the state after version N of a stream" (ARCHITECTURE layer 5).

A snapshot is never the truth: the log is. So a snapshot that cannot be used (written by
code with other state classes or other reducer semantics, unreadable, from another log)
is ignored and the caller folds from an older one or from the start.

Serialization is pickle, tagged with :data:`SNAPSHOT_FORMAT`. The format contains a
fingerprint of every record class a ``RunState`` holds, so adding, removing or renaming
a field retires old snapshots without anyone remembering to bump a number; bump
:data:`SNAPSHOT_SCHEMA` by hand when the reducers change what the same fields mean.
Pickle executes code on load: snapshots live in the same file as the log, and whoever
can write that file can already rewrite history, so this adds no new trust boundary.

``RunState.plan`` is not pickled: it is derived from the document (kept in the state)
and the WorkflowTemplate snapshot of ``WorkflowSubmitted``. ``RunState`` does not keep
the latter, so the snapshot stores it alongside the state.
"""

from __future__ import annotations

import copyreg
import hashlib
import operator
import pickle
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from aether.events import assignment as _assignment
from aether.events import values as _values
from aether.model import limits as _limits
from aether.model.json_value import JSON
from aether.reducers import state as _state
from aether.reducers.copying import replace
from aether.reducers.plan import build_plan
from aether.reducers.state import RunState

TemplatesSnapshot = Mapping[str, JSON]

# Bump when the reducers give existing fields a different meaning (a counter counted
# differently, a phase set by another event): old snapshots would then fold wrongly.
SNAPSHOT_SCHEMA = 1
DEFAULT_EVERY = 1000
DEFAULT_KEEP = 2
_PICKLE_PROTOCOL = 5
# replace does not check types: a plan-less copy is only ever pickled, never used as a state.
_NO_PLAN: Any = None


def _fingerprint() -> str:
    """A digest of the field layout of every attrs class a pickled ``RunState`` can hold."""
    parts: list[str] = []
    for module in (_state, _values, _assignment, _limits):
        for name, obj in sorted(vars(module).items()):
            if isinstance(obj, type) and attrs.has(obj) and obj.__module__ == module.__name__:
                fields = ",".join(f"{f.name}:{f.type}" for f in attrs.fields(obj))
                parts.append(f"{obj.__module__}.{name}({fields})")
    return hashlib.sha256(";".join(parts).encode()).hexdigest()[:16]


SNAPSHOT_FORMAT = f"runstate-pickle{_PICKLE_PROTOCOL}/{SNAPSHOT_SCHEMA}/{_fingerprint()}"


def _record_classes() -> list[type]:
    return [
        obj
        for module in (_state, _values, _assignment, _limits)
        for obj in vars(module).values()
        if isinstance(obj, type) and attrs.has(obj) and obj.__module__ == module.__name__
    ]


def _register_compact_pickling() -> None:
    """Pickle each state record as its class and a tuple of its fields.

    attrs' default for slotted classes builds a dict per object through Python code;
    a run of 100,000 nodes holds several hundred thousand records, so that dominated
    taking and loading a snapshot. A C ``attrgetter`` reads the fields and the class's
    own ``__init__`` rebuilds the record (every field is an init argument).
    """
    for cls in _record_classes():
        fields = attrs.fields(cls)
        if not all(f.init for f in fields):
            continue
        getter = operator.attrgetter(*(f.name for f in fields))
        single = len(fields) == 1

        def reduce(obj: Any, cls: type = cls, getter: Any = getter, single: bool = single) -> tuple[Any, ...]:
            values = getter(obj)
            return cls, ((values,) if single else values)

        copyreg.pickle(cls, reduce)


_register_compact_pickling()


class SnapshotUnusable(Exception):
    """A stored snapshot that cannot be turned back into a state (callers skip it)."""


# --- serialization ---------------------------------------------------------------------------


def dump_state(state: RunState, templates_snapshot: TemplatesSnapshot | None = None) -> bytes:
    """The state without its plan, which is rebuilt from the recorded document and
    templates (``state.templates_snapshot``) when the snapshot is loaded. The
    ``templates_snapshot`` argument is accepted for callers that still pass it."""
    bare = replace(state, info=replace(state.info, plan=_NO_PLAN))
    return pickle.dumps(bare, protocol=_PICKLE_PROTOCOL)


def load_state(data: bytes) -> RunState:
    """Raises :class:`SnapshotUnusable` for anything that is not a snapshot of this format."""
    try:
        bare = pickle.loads(data)
    except Exception as exc:  # unpickling can fail in many ways: all mean "unusable"
        raise SnapshotUnusable(f"cannot unpickle snapshot: {exc}") from exc
    if not isinstance(bare, RunState):
        raise SnapshotUnusable(f"snapshot holds {type(bare).__name__}, not RunState")
    return replace(bare, info=replace(bare.info, plan=build_plan(bare.document, bare.templates_snapshot)))


# --- the store interface -----------------------------------------------------------------------


@runtime_checkable
class SnapshotStore(Protocol):
    def save(
        self,
        stream: str,
        version: int,
        state: RunState,
        *,
        templates_snapshot: TemplatesSnapshot | None = None,
    ) -> None:
        """Keep ``state`` as the state of ``stream`` after ``version`` events.

        ``templates_snapshot`` is the one ``WorkflowSubmitted`` recorded; when omitted it is
        derived from ``state.plan``. Saving a version again replaces it.
        """
        ...

    def latest(self, stream: str, at_or_before: int | None = None) -> tuple[int, RunState] | None:
        """The newest usable snapshot with ``version <= at_or_before`` (any version if None)."""
        ...

    def delete(self, stream: str) -> None:
        """Forget every snapshot of ``stream``."""
        ...


def check_version(version: int) -> None:
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"a snapshot version must be an int >= 1, not {version!r}")


# --- when to take one --------------------------------------------------------------------------


@attrs.frozen
class Snapshotter:
    """Snapshot policy: one each time a stream crosses a multiple of ``every`` events.

    Crossing, not landing on: one append of many events can jump over a multiple, and
    the state after that append is then the one to keep.

    With ``per_node`` set and ``size`` (the run's node count) given, the interval
    stretches to ``per_node`` events per node when that is longer: taking a snapshot costs time in proportion to the
    state's size, so a large run is snapshotted less often and the cost of snapshots
    stays a bounded share of the cost of projecting its events.
    """

    every: int = DEFAULT_EVERY
    per_node: int = 0

    def __attrs_post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"every must be >= 1, not {self.every}")

    def interval(self, size: int = 0) -> int:
        return max(self.every, size * self.per_node)

    def due(self, old_version: int, new_version: int, size: int = 0) -> bool:
        interval = self.interval(size)
        return new_version // interval > old_version // interval
