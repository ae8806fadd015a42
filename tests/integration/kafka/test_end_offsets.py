"""End offsets that count every record, on the real broker (which under-reports them)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from workers.kafka.end_offsets import read_past_last_batches, true_end_offsets
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


async def test_a_last_batch_that_never_arrives_is_named_when_the_deadline_passes(
    bootstrap_servers: str,
) -> None:
    topic = f"ends_{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap_servers, [topic], 2)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        await (await producer.send(topic, b"a", partition=1))
    finally:
        await producer.stop()
    tps = [TopicPartition(topic, partition) for partition in range(2)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)

    async def nothing_delivered(
        _tps: list[TopicPartition], timeout_ms: int
    ) -> dict[TopicPartition, list[object]]:
        await asyncio.sleep(timeout_ms / 1000)
        return {}

    await consumer.start()
    try:
        reported = await consumer.end_offsets(tps)
        with pytest.raises(TimeoutError, match=rf"last record batch of {topic}\[1\]$"):
            await read_past_last_batches(
                consumer, reported, {}, time.monotonic() + 0.3, nothing_delivered, 50
            )
    finally:
        await consumer.stop()
