"""Noticing source records the consumer fetched that never reached the agent.

Around a rebalance, Faust resumes the source partitions before it seeks them back to the
committed offsets, so runs fetched before the seek and runs fetched after it can both be in
flight. Sometimes a run fetched after the seek never reaches the agent, although the
consumer's position has moved past it. Nothing acknowledges those records, so the committed
offset stays put and nothing is lost; but when no later run of that partition comes to reveal
the hole (``continuity``), the worker waits forever with unprocessed changes.

The check: a partition whose fetch position is past the next offset the agent expects, on two
checks in a row, with no batch handled in between and none in progress, is stalled. The worker
then seeks it back to the expected offset, and the records are fetched and delivered again.
Should the check be wrong (a run still on its way), the agent gets those records twice and
dedup drops the second copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class StalledFetchCheck:
    # partition -> (expected, position) when that partition was last seen fetched ahead
    ahead: dict[int, tuple[int, int]] = field(default_factory=dict)
    handled: int = -1

    def check(
        self,
        expected: Mapping[int, int],
        positions: Mapping[int, int | None],
        handled: int,
        busy: bool,
    ) -> dict[int, int]:
        """Partitions to fetch again, each with the offset to fetch from.

        ``expected`` is the next offset the agent expects per partition, ``positions`` the
        consumer's fetch positions, ``handled`` a count of batches the agent has handled and
        ``busy`` whether it is handling one now.
        """
        idle = not busy and handled == self.handled
        self.handled = handled
        stalled: dict[int, int] = {}
        ahead: dict[int, tuple[int, int]] = {}
        for partition, position in positions.items():
            offset = expected.get(partition)
            if position is None or offset is None or position <= offset:
                continue
            if idle and self.ahead.get(partition) == (offset, position):
                stalled[partition] = offset
            else:
                ahead[partition] = (offset, position)
        self.ahead = ahead
        return stalled
