"""Processing rounds are bounded by bytes, never empty, and keep the messages' order."""

from __future__ import annotations

from workers.stream.agents import SourceRecord, byte_bounded


def test_rounds_are_bounded_by_bytes_and_keep_order() -> None:
    sizes = [400, 400, 300, 1200, 10, 10]
    messages = [SourceRecord(0, n, b"x" * size) for n, size in enumerate(sizes)]
    rounds = list(byte_bounded(messages, 1000))
    assert [len(r) for r in rounds] == [2, 1, 1, 2]  # an oversized message goes alone
    assert [m for r in rounds for m in r] == messages
    assert list(byte_bounded([], 1000)) == []
