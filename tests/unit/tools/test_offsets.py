"""Positions as the tools parse them, and what a partition window keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.tools.offsets import (
    AtOffset,
    AtTime,
    Beginning,
    End,
    PartitionWindow,
    Verdict,
    parse_position,
)


def test_parse_positions() -> None:
    assert parse_position("beginning") == Beginning()
    assert parse_position("end") == End()
    assert parse_position("offset:42") == AtOffset(42)
    assert parse_position("time:2026-11-23T21:00:00Z") == AtTime(
        datetime(2026, 11, 23, 21, tzinfo=UTC)
    )
    # A time without a zone is UTC; one with a zone keeps its instant.
    assert (
        parse_position("time:2026-11-23T21:00:00").ms
        == parse_position("time:2026-11-23T22:00:00+01:00").ms
    )  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("offset:-1", "0 or more"),
        ("offset:x", "whole number"),
        ("time:yesterday", "ISO 8601"),
        ("latest", "expected beginning"),
        ("pos:3", "expected beginning"),
    ],
)
def test_bad_positions_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_position(text)


def kept(window: PartitionWindow, records: list[tuple[int, int]]) -> list[int]:
    """Offsets kept, stopping where a real read stops."""
    out = []
    for offset, ts in records:
        verdict = window.accept(offset, ts)
        if verdict is Verdict.KEEP:
            out.append(offset)
        if window.done:
            break
    return out


RECORDS = [(offset, 1000 + offset * 10) for offset in range(20)]


def test_bounded_window_ends_at_the_real_end() -> None:
    window = PartitionWindow(start=5, end=12)
    assert kept(window, RECORDS[5:]) == list(range(5, 12))
    assert window.done


def test_to_offset_is_inclusive() -> None:
    assert kept(PartitionWindow(start=3, end=20, to_offset=7), RECORDS[3:]) == [3, 4, 5, 6, 7]


def test_times_skip_before_and_stop_after() -> None:
    window = PartitionWindow(start=0, end=20, from_ms=1045, to_ms=1100)
    assert kept(window, RECORDS) == [5, 6, 7, 8, 9, 10]
    assert window.done


def test_from_time_keeps_everything_after_the_first_match() -> None:
    # Like Kafka's offsets-for-times: start at the first record stamped at/after the time.
    records = [(0, 100), (1, 300), (2, 200), (3, 400)]
    assert kept(PartitionWindow(start=0, end=4, from_ms=250), records) == [1, 2, 3]


def test_empty_window_is_done_at_once() -> None:
    assert PartitionWindow(start=7, end=7).done
    assert not PartitionWindow(start=7).done


def test_following_window_never_ends_on_its_own() -> None:
    window = PartitionWindow(start=0)
    assert kept(window, RECORDS) == list(range(20))
    assert not window.done


def test_skipped_last_record_still_ends_the_window() -> None:
    window = PartitionWindow(start=0, end=3, from_ms=10_000)
    assert kept(window, RECORDS[:3]) == []
    assert window.done


@given(
    start=st.integers(0, 30),
    end=st.integers(0, 30),
    to_offset=st.none() | st.integers(0, 30),
)
def test_window_keeps_exactly_the_offsets_in_range(
    start: int, end: int, to_offset: int | None
) -> None:
    records = [(offset, offset) for offset in range(start, 40)]
    last = min(end - 1, 39 if to_offset is None else to_offset)
    assert kept(PartitionWindow(start=start, end=end, to_offset=to_offset), records) == list(
        range(start, last + 1)
    )


def test_time_position_offsets() -> None:
    at = AtTime(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2))))
    assert at.ms == int(datetime(2025, 12, 31, 22, tzinfo=UTC).timestamp() * 1000)
