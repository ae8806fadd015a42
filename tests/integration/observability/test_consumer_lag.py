"""The consumer-lag gauge, sampled from a real consumer on the throwaway broker."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from workers.kafka.topics import ensure_topics
from workers.observability.consumer_lag import LagSampler, partition_lag

pytestmark = pytest.mark.integration


def _gauge(topic: str, partition: int) -> float | None:
    return REGISTRY.get_sample_value(
        "pulse_consumer_lag_records", {"topic": topic, "partition": str(partition)}
    )


def test_partition_lag() -> None:
    assert partition_lag(10, 4) == 6
    assert partition_lag(4, 4) == 0
    assert partition_lag(None, 4) is None
    assert partition_lag(10, None) is None


async def test_lag_follows_consumption_and_assignment(bootstrap_servers: str) -> None:
    watched, other = f"lag_{uuid.uuid4().hex[:8]}", f"lag_other_{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap_servers, [watched, other], partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        # One record per request: the bundled broker reports high watermarks exactly only then.
        for i in range(10):
            await producer.send_and_wait(watched, f"{i}".encode(), partition=0)
        await producer.send_and_wait(other, b"x", partition=0)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        watched_tp, other_tp = TopicPartition(watched, 0), TopicPartition(other, 0)
        consumer.assign([watched_tp, other_tp])
        await consumer.seek_to_beginning(watched_tp, other_tp)
        sampler = LagSampler([watched])
        read = 0
        while read < 3:
            batch = await consumer.getmany(watched_tp, timeout_ms=2000, max_records=3 - read)
            read += sum(len(records) for records in batch.values())

        lags = await sampler.sample(consumer)
        assert lags == {(watched, 0): 7}
        assert _gauge(watched, 0) == 7
        assert _gauge(other, 0) is None, "topics outside the watched set are not reported"

        consumer.assign([other_tp])
        assert await sampler.sample(consumer) == {}
        assert _gauge(watched, 0) is None, "a revoked partition's lag must not linger"
    finally:
        await consumer.stop()
