"""The run page's document kept up to date: read at one event and brought up to a later one,
it equals the document read at the later one at once, and what it says changed after an
event is exactly the nodes whose documents differ."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from support.ui_pages import run_workflow

from aether.cli.common import open_queries
from aether.runtime.queries import QueryService
from aether.ui.run_data import RunDocument

pytestmark = pytest.mark.spec("6.4", "6.6")


class _StoppedAt(QueryService):
    """The queries of a run whose log seems to end at ``stop`` (it moves on when told)."""

    def __init__(self, queries: QueryService, stop: int) -> None:
        super().__init__(queries.engine)
        self.stop = stop

    def last_version(self, run_id: str) -> int:
        return min(self.stop, super().last_version(run_id))


def _plain(document: dict[str, object]) -> object:
    return orjson.loads(orjson.dumps(document))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return run_workflow(tmp_path_factory.mktemp("run"))


@pytest.mark.parametrize("first", [1, 3, 9, 20, 33, 47])
def test_a_document_brought_up_to_a_later_event_equals_one_read_there(
    finished_run: tuple[Path, str], first: int
) -> None:
    db, run_id = finished_run
    queries = open_queries(str(db))
    last = queries.last_version(run_id)
    moving = _StoppedAt(queries, first)
    document = RunDocument(moving, run_id)
    at_first = _plain(document.whole())
    assert at_first == _plain(RunDocument(_StoppedAt(queries, first), run_id).whole())
    for later in (first + 1, first + 7, last):
        moving.stop, previous = later, document.last
        assert document.advance() == (min(later, last) > previous)
        assert _plain(document.whole()) == _plain(RunDocument(_StoppedAt(queries, later), run_id).whole()), later
    assert document.advance() is False


@pytest.mark.parametrize("since", [0, 5, 18, 40])
def test_what_changed_since_an_event_is_the_nodes_whose_documents_differ(
    finished_run: tuple[Path, str], since: int
) -> None:
    db, run_id = finished_run
    queries = open_queries(str(db))
    moving = _StoppedAt(queries, since or 1)
    document = RunDocument(moving, run_id)
    before = {node["id"]: node for node in _plain(document.whole())["nodes"]}  # type: ignore[index]
    moving.stop = queries.last_version(run_id)
    document.advance()
    changes = _plain(document.since(since or 1))
    after = _plain(document.whole())
    assert changes["events"] == after["events"][since or 1 :]  # type: ignore[index]
    changed = {node["id"] for node in after["nodes"] if before.get(node["id"]) != node}  # type: ignore[index]
    sent = {node["id"]: node for node in changes["nodes"]}  # type: ignore[index]
    assert set(sent) == changed
    for node in after["nodes"]:  # type: ignore[index]
        if node["id"] in sent:
            assert {key: value for key, value in sent[node["id"]].items() if key != "number"} == node
            assert after["nodes"][sent[node["id"]]["number"]]["id"] == node["id"]  # type: ignore[index]


@pytest.mark.parametrize("node", [None, "main/c"])
def test_the_audit_trail_after_an_event_is_the_tail_of_the_whole_trail(
    finished_run: tuple[Path, str], node: str | None
) -> None:
    db, run_id = finished_run
    queries = open_queries(str(db))
    whole = list(queries.history(run_id, phases_only=True, node=node))
    assert len({entry.seq for entry in whole}) > 3
    for after in (0, 5, whole[len(whole) // 2].seq, whole[-1].seq):
        tail = list(queries.history(run_id, phases_only=True, node=node, after=after))
        assert tail == [entry for entry in whole if entry.seq > after], after
