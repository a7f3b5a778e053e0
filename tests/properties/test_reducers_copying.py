"""``aether.reducers.copying.replace``: the reducers' fast copy of a frozen record equals
``attrs.evolve`` (which re-runs ``__init__``) for every record class and field."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aether.reducers import cron as cron_state
from aether.reducers import state as run_state
from aether.reducers.copying import replace

RECORDS = [
    cls
    for module in (run_state, cron_state)
    for cls in vars(module).values()
    if isinstance(cls, type) and attrs.has(cls) and cls.__module__ == module.__name__
]
VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.booleans())


def _instance(cls: type) -> Any:
    """An instance with every field set to a value of its own (types are not checked)."""
    return cls(**{f.name: f"{f.name}-value" for f in attrs.fields(cls)})


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
@given(data=st.data())
def test_replace_equals_evolve(cls: type, data: st.DataObject) -> None:
    original = _instance(cls)
    names = [f.name for f in attrs.fields(cls)]
    changes = data.draw(st.dictionaries(st.sampled_from(names), VALUES, max_size=4), label="changes")
    copied = replace(original, **changes)
    assert type(copied) is cls
    assert attrs.astuple(copied, recurse=False) == attrs.astuple(attrs.evolve(original, **changes), recurse=False)
    assert attrs.astuple(original, recurse=False) == attrs.astuple(_instance(cls), recurse=False), "input mutated"


def test_an_unknown_field_is_refused() -> None:
    node = _instance(run_state.TimerState)
    with pytest.raises(TypeError, match="TimerState has no field 'nope'"):
        replace(node, nope=1)


@attrs.frozen(slots=False)
class DictRecord:
    a: int
    b: str = "x"


def test_a_record_without_slots_is_copied_too() -> None:
    record = DictRecord(1)
    assert replace(record, b="y") == DictRecord(1, "y")
    assert record == DictRecord(1)
