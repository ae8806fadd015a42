"""Noticing source offsets that Faust skipped, so that the agent can read them itself.

``supabase_changes`` is written without transactions and never compacted, so a partition's
offsets have no holes: after a rebalance its events must arrive as committed, committed + 1, ...
A jump forward means messages were skipped. That happens around rebalances (seen on the bundled
broker; Faust has had several such races, e.g. faust-streaming #216 and #221): a record fetched
before Faust seeks back to the committed offset is delivered first, and the re-fetched messages
below it are then dropped as already read. Those changes would never be processed.

The worker guards both halves: its consumer never counts a jump as acknowledged (``faust_adapter``),
so the committed offset cannot pass a skipped message, and when ``observe`` reports a hole the
agent reads that offset range itself (``reread``), processes it before the events that revealed
it and only then acknowledges it. Should Faust deliver the same messages later after all, dedup
drops them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


def known_offsets(next_offsets: Mapping[int, int | None]) -> dict[int, int]:
    """The partitions whose next offset to read is known (committed, or log start)."""
    return {p: offset for p, offset in next_offsets.items() if offset is not None}


@dataclass
class OffsetContinuity:
    expected: dict[int, int] = field(default_factory=dict)  # next offset, per partition

    def reset(self, next_offsets: Mapping[int, int | None]) -> None:
        """Start over after a rebalance from the next offsets to read (committed, or log start)."""
        self.expected = known_offsets(next_offsets)

    def observe(self, partition: int, first: int, last: int) -> tuple[int, int] | None:
        """The offsets ``[start, end)`` of ``partition`` skipped before the run ``first..last``."""
        expected = self.expected.get(partition)
        if expected is None or last >= expected:
            self.expected[partition] = last + 1
        if expected is not None and first > expected:
            return expected, first
        return None
