"""Canonical values: one spelling whatever the source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.changes.values import canonical_timestamp, canonical_value, timestamp_ms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-03 09:32:55+00", "2025-11-03T09:32:55.000000Z"),
        ("2025-11-03 09:32:55.1+00", "2025-11-03T09:32:55.100000Z"),
        ("2025-11-03T09:32:55.123456+00:00", "2025-11-03T09:32:55.123456Z"),
        ("2025-11-03T09:32:55.877Z", "2025-11-03T09:32:55.877000Z"),
        ("2025-11-03 11:32:55.5+02", "2025-11-03T09:32:55.500000Z"),
        ("2025-11-03 09:32:55", "2025-11-03T09:32:55.000000Z"),
    ],
)
def test_timestamp_spellings(text: str, expected: str) -> None:
    assert canonical_timestamp(text) == expected


@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(-14 * 60, 14 * 60),
)
def test_any_offset_and_spelling_lands_on_the_same_utc_instant(
    moment: datetime, offset_min: int
) -> None:
    aware = moment.replace(tzinfo=UTC)
    shifted = aware.astimezone(timezone(timedelta(minutes=offset_min)))
    assert canonical_timestamp(shifted.isoformat()) == canonical_timestamp(aware)
    assert canonical_timestamp(aware.isoformat().replace("T", " ")) == canonical_timestamp(aware)
    assert timestamp_ms(shifted.isoformat()) == int(aware.timestamp() * 1_000_000) // 1000


def test_typed_values() -> None:
    assert canonical_value("bool", "t") is True and canonical_value("bool", False) is False
    assert canonical_value("int8", "9007199254740993") == 9007199254740993
    assert canonical_value("jsonb", '{"a": [1, 2]}') == {"a": [1, 2]}
    assert canonical_value("jsonb", {"a": [1, 2]}) == {"a": [1, 2]}
    assert canonical_value("numeric", "1.50") == canonical_value("numeric", 1.5) == "1.5"
    assert canonical_value("uuid", "ABC") == "abc"
    assert canonical_value("text", None) is None
