"""Which fetched changelog records a restore applies (``kafka.changelog_reading``)."""

from __future__ import annotations

from aiokafka.structs import ConsumerRecord

from workers.kafka.changelog_reading import records_in_range


def record(offset: int, key: bytes | None, value: bytes | None) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("t-changelog", 0, offset, 0, 0, key, value, None, 0, 0, ())


def test_records_outside_the_range_and_unkeyed_ones_are_left_out() -> None:
    fetched = [
        record(3, b"a", b"1"),
        record(4, b"b", None),
        record(6, None, b"x"),
        record(7, b"a", b"2"),
        record(9, b"c", b"3"),
    ]
    assert records_in_range(fetched, 4, 7) == [(4, b"b", None), (7, b"a", b"2")]
    assert records_in_range(fetched, 10, 12) == []
