"""Event times: RFC 3339 UTC with milliseconds, exactly as ``datetime`` formats them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aether.events.times import format_ms, parse_ms

pytestmark = pytest.mark.spec("0")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Years 1 to 9999: what datetime (and RFC 3339) can hold.
_MS = st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999)


def _reference(epoch_ms: int) -> str:
    t = _EPOCH + timedelta(milliseconds=epoch_ms)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@given(_MS)
def test_format_matches_datetime_and_parses_back(epoch_ms: int) -> None:
    text = format_ms(epoch_ms)
    assert text == _reference(epoch_ms)
    assert parse_ms(text) == epoch_ms


def test_format_before_the_epoch_borrows_a_second() -> None:
    assert format_ms(-1) == "1969-12-31T23:59:59.999Z"
    assert format_ms(1_772_359_200_007) == "2026-03-01T10:00:00.007Z"


def test_years_before_1000_keep_four_digits() -> None:
    assert format_ms(-30_610_224_000_001) == "0999-12-31T23:59:59.999Z"
