"""Whether a stream worker has stopped fetching partitions that have records left to read.

A partition lags when the broker holds records past the worker's fetch position. The position
moves whenever the consumer takes fetched records, so a lagging partition whose position has not
moved for longer than ``PULSE_FETCH_STALL_LIMIT_S`` is one the worker holds but does not read:
its consumer or its agent is stuck, and nothing else will take the partition over while the
process lives. Time during a rebalance or a table restore does not count (Faust pauses the
source partitions then on purpose), so a long restore never looks like a stall.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

LIMIT_VARIABLE = "PULSE_FETCH_STALL_LIMIT_S"


@dataclass
class FetchStallCheck:
    limit_s: float
    # partition -> (position, when it was first seen lagging at that position)
    lagging: dict[int, tuple[int, float]] = field(default_factory=dict)

    def observe(
        self,
        now: float,
        positions: Mapping[int, int | None],
        ends: Mapping[int, int],
        settled: bool,
    ) -> dict[int, float]:
        """Partitions lagging at one position for longer than the limit, with for how long.

        ``positions`` are the worker's fetch positions of the partitions it holds (None: not
        known), ``ends`` the broker's end offsets, ``settled`` whether no rebalance or restore is
        under way.
        """
        if not settled:
            self.lagging = {}
            return {}
        lagging: dict[int, tuple[int, float]] = {}
        stalled: dict[int, float] = {}
        for partition, position in positions.items():
            end = ends.get(partition)
            if position is None or end is None or end <= position:
                continue
            seen = self.lagging.get(partition)
            since = seen[1] if seen is not None and seen[0] == position else now
            lagging[partition] = (position, since)
            if now - since > self.limit_s:
                stalled[partition] = now - since
        self.lagging = lagging
        return stalled


def stall_reason(stalled: Mapping[int, float], limit_s: float) -> str | None:
    """The ``/healthz`` reason for ``stalled`` partitions; None when there are none."""
    if not stalled:
        return None
    partitions = ", ".join(str(partition) for partition in sorted(stalled))
    return (
        f"no fetch for more than {limit_s:g} s ({LIMIT_VARIABLE}) from lagging source "
        f"partitions {partitions}"
    )
