"""Where a partition's records end when transactions wrote it last (commit and abort markers)."""

from __future__ import annotations

import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import TopicPartition

from workers.kafka.clients import new_consumer
from workers.kafka.end_offsets import changelog_ends
from workers.kafka.topics import ensure_topics

pytestmark = pytest.mark.integration


async def transactions(bootstrap: str, topic: str, committed: int, aborted: int) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"ends-{uuid.uuid4().hex[:8]}"
    )
    await producer.start()
    try:
        for n in range(committed):
            async with producer.transaction():
                await producer.send_and_wait(topic, b"kept %d" % n, partition=0)
        for n in range(aborted):
            await producer.begin_transaction()
            await producer.send_and_wait(topic, b"aborted %d" % n, partition=0)
            await producer.abort_transaction()
    finally:
        await producer.stop()


async def reported_end(bootstrap: str, tp: TopicPartition) -> int:
    consumer = new_consumer(bootstrap)
    await consumer.start()
    try:
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()


@pytest.mark.parametrize("aborted", [0, 40])
async def test_the_end_is_after_the_last_committed_record_not_after_a_marker(
    bootstrap_servers: str, aborted: int
) -> None:
    topic = f"ends_{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap_servers, [topic], 1)
    tp = TopicPartition(topic, 0)
    await transactions(bootstrap_servers, topic, committed=3, aborted=aborted)
    # Three records, three commit markers, then per aborted transaction a record and a marker.
    reported = await reported_end(bootstrap_servers, tp)
    assert reported == 6 + 2 * aborted
    started = time.monotonic()
    ends = await changelog_ends(bootstrap_servers, {tp: reported})
    # The last committed record is at offset 4 (records at 0, 2, 4; markers at 1, 3, 5).
    assert ends == {tp: 5}
    assert time.monotonic() - started < 10


async def test_a_partition_with_no_record_ends_at_its_beginning(bootstrap_servers: str) -> None:
    topic = f"ends_{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap_servers, [topic], 1)
    tp = TopicPartition(topic, 0)
    await transactions(bootstrap_servers, topic, committed=0, aborted=2)
    assert await changelog_ends(
        bootstrap_servers, {tp: await reported_end(bootstrap_servers, tp)}
    ) == {tp: 0}
