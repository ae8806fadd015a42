"""End offsets that count every record, on the real broker (which under-reports them)."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from workers.kafka.end_offsets import true_end_offsets
from workers.kafka.topics import ensure_topics

pytestmark = pytest.mark.integration


async def reported_ends(bootstrap: str, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        return ends
    finally:
        await consumer.stop()


async def test_end_offsets_count_the_records_of_the_last_batch(bootstrap_servers: str) -> None:
    topic = f"ends_{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap_servers, [topic], 3)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        # Partition 0: two records alone, then one batch of ten (the case the broker gets wrong).
        for value in (b"a", b"b"):
            await (await producer.send(topic, value, partition=0))
        batch = producer.create_batch()
        for number in range(10):
            batch.append(key=None, value=f"m{number}".encode(), timestamp=None)
        await (await producer.send_batch(batch, topic, partition=0))
        # Partition 1: three records, each its own batch. Partition 2: nothing.
        for value in (b"x", b"y", b"z"):
            await (await producer.send(topic, value, partition=1))
    finally:
        await producer.stop()
    tps = [TopicPartition(topic, partition) for partition in range(3)]

    ends = await true_end_offsets(bootstrap_servers, await reported_ends(bootstrap_servers, tps))

    assert ends == {tps[0]: 12, tps[1]: 3, tps[2]: 0}
