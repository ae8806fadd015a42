"""Noticing source offsets that Faust skipped, so that the agent can read them itself.

``supabase_changes`` is written without transactions and never compacted, so a partition's
offsets have no holes: after an assignment its records must arrive as committed, committed + 1,
and so on. Around a rebalance Faust resumes fetching before it seeks the partitions back to their
committed offsets, and it drops a run whose last offset is below the last one it delivered, or
one fetched for a partition it holds paused; with those races a run can reach the agent after
records before it were fetched and never delivered (faust-streaming #216 and #221 are of this
kind). Those changes would never be processed.

The worker guards both halves: its consumer never counts a jump as acknowledged (``faust_adapter``),
so the committed offset cannot pass a skipped message, and when ``observe`` reports a hole the
agent reads that offset range itself (``reread``), processes it before the events that revealed
it and only then commits. Where each partition resumes is read from the broker when the worker
claims it (``agents.StreamRunner.claim_sources``), after its last owner's transaction completed;
records below it, or below an offset the worker has committed itself, are skipped
(``CommittedPositions``).
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

    def rewind(self, partition: int, offset: int) -> None:
        """Expect ``offset`` next again: the records from there on were not processed (a hole
        that could not be read), so the next run reveals the hole again."""
        self.expected[partition] = offset


@dataclass
class CommittedPositions:
    """Per source partition, the offset after the last committed record this worker knows of:
    the committed offset read when it claimed the partition, then each of its own commits.

    After an assignment Faust resumes fetching before it seeks the source partitions back to
    their committed offsets, and it may have read those offsets before the last owner's final
    transaction completed, so a run below the committed offset can be delivered. Records below
    a committed offset are committed (offsets only grow, and nobody else commits while this
    worker holds the partition's producer): they are skipped, not processed and counted twice.
    """

    next: dict[int, int] = field(default_factory=dict)

    def advance(self, partition: int, next_offset: int) -> None:
        if next_offset > self.next.get(partition, 0):
            self.next[partition] = next_offset

    def first_new(self, partition: int) -> int:
        return self.next.get(partition, 0)
