"""A lag sample that a rebalance interrupts skips the partitions taken away
(``observability.consumer_lag``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiokafka.structs import TopicPartition

from workers.observability.consumer_lag import LagSampler


class Rebalanced:
    """A consumer whose assignment loses partition 1 while partition 0's position is read."""

    def __init__(self) -> None:
        self.assigned = {TopicPartition("changes", 0), TopicPartition("changes", 1)}

    def assignment(self) -> Iterable[Any]:
        return sorted(self.assigned)

    def highwater(self, tp: Any) -> int | None:
        assert tp in self.assigned, "Partition is not assigned"
        return 10

    async def position(self, tp: Any) -> int | None:
        self.assigned.discard(TopicPartition("changes", 1))
        return 4


async def test_a_partition_taken_mid_sample_is_skipped() -> None:
    assert await LagSampler(["changes"]).sample(Rebalanced()) == {("changes", 0): 6}
