"""Snapshot retention: the newest few, plus one milestone per bucket for time travel."""

from __future__ import annotations

from pathlib import Path

from support.documents import executor, task, workflow

from aether.events.catalog import WorkflowSubmitted
from aether.reducers.run import apply
from aether.store.sqlite_snapshots import SqliteSnapshotStore

DOCUMENT = workflow("w", task("main", executor("echo")), namespace="default")


def _state():  # type: ignore[no-untyped-def]
    return apply(None, WorkflowSubmitted("r", "2026-03-01T10:00:00.000Z", DOCUMENT))


def test_milestones_survive_pruning(tmp_path: Path) -> None:
    store = SqliteSnapshotStore(tmp_path / "s.db", keep=2, keep_every=10_000)
    for version in range(1000, 26_000, 1000):
        store.save("run:r", version, _state())
    kept = [version for version, _format in store.versions("run:r")]
    # the earliest of each 10,000-event bucket, and the two newest
    assert kept == [1000, 10_000, 20_000, 24_000, 25_000]
    found = store.latest("run:r", at_or_before=19_999)
    assert found is not None and found[0] == 10_000


def test_without_milestones_only_the_newest_stay(tmp_path: Path) -> None:
    store = SqliteSnapshotStore(tmp_path / "s.db", keep=2)
    for version in range(1000, 6000, 1000):
        store.save("run:r", version, _state())
    assert [version for version, _format in store.versions("run:r")] == [4000, 5000]
