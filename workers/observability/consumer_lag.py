"""``pulse_consumer_lag_records`` for the stream worker, sampled from its Faust consumer.

How to wire it (where the Faust app is built):

    install_lag_sampler(app, topics=[kafka.changes_topic], interval_s=5.0)

Faust starts app timers once table recovery is over, so the gauge appears when the worker starts
consuming. The lag of a partition is its high watermark (as of the consumer's last fetch) minus
the consumer's position. The bundled test broker under-reports high watermarks after multi-record
batches, so there the figure can read low; on Apache Kafka it is exact up to one fetch.
Partitions this worker loses in a rebalance are removed from the gauge, so no stale lag lingers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, Protocol

import faust
from aiokafka.errors import IllegalStateError

from workers.observability.metrics import CONSUMER_LAG


class TopicPartition(Protocol):
    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...


class LagSource(Protocol):
    """The part of a Faust consumer the sampler reads."""

    def assignment(self) -> Iterable[Any]: ...

    def highwater(self, tp: Any) -> int | None: ...

    async def position(self, tp: Any) -> int | None: ...


def partition_lag(highwater: int | None, position: int | None) -> int | None:
    """Records not yet read, or None while either end is unknown (before the first fetch)."""
    if highwater is None or position is None:
        return None
    return max(0, highwater - position)


class LagSampler:
    def __init__(self, topics: Collection[str]) -> None:
        self._topics = set(topics)
        self._published: set[tuple[str, int]] = set()

    async def sample(self, consumer: LagSource) -> dict[tuple[str, int], int]:
        lags: dict[tuple[str, int], int] = {}
        for tp in consumer.assignment():
            if tp.topic not in self._topics:
                continue
            try:
                lag = partition_lag(consumer.highwater(tp), await consumer.position(tp))
            except (AssertionError, IllegalStateError):
                # A rebalance on the consumer's thread took the partition while the sample ran
                # (aiokafka asserts its partitions are assigned); it is sampled where it went.
                continue
            if lag is not None:
                lags[(tp.topic, tp.partition)] = lag
        for topic, partition in self._published - lags.keys():
            CONSUMER_LAG.remove(topic, str(partition))
        for (topic, partition), lag in lags.items():
            CONSUMER_LAG.labels(topic, str(partition)).set(lag)
        self._published = set(lags)
        return lags


def install_lag_sampler(app: faust.App, topics: Collection[str], interval_s: float = 5.0) -> None:
    sampler = LagSampler(topics)

    async def sample_lag() -> None:
        await sampler.sample(app.consumer)

    app.timer(interval_s, name="pulse_consumer_lag")(sample_lag)
