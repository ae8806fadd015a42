"""Processing rounds are bounded by bytes, never empty, and keep the messages' order."""

from __future__ import annotations

from workers.stream.agents import SourceRecord, byte_bounded, in_offset_order


def test_rounds_are_bounded_by_bytes_and_keep_order() -> None:
    sizes = [400, 400, 300, 1200, 10, 10]
    messages = [SourceRecord(0, n, b"x" * size) for n, size in enumerate(sizes)]
    rounds = list(byte_bounded(messages, 1000))
    assert [len(r) for r in rounds] == [2, 1, 1, 2]  # an oversized message goes alone
    assert [m for r in rounds for m in r] == messages
    assert list(byte_bounded([], 1000)) == []


def test_a_hole_read_between_two_runs_is_put_in_offset_order_each_record_once() -> None:
    # Runs 100..101 and 104..105 of one partition, and the hole 102..103 read ahead of them,
    # overlapping the second run at 104.
    hole = [SourceRecord(0, offset, b"h") for offset in (102, 103, 104)]
    runs = [SourceRecord(0, offset, b"r") for offset in (100, 101, 104, 105)]
    ordered = in_offset_order(hole + runs)
    assert [record.offset for record in ordered] == [100, 101, 102, 103, 104, 105]
