"""Reading a changelog's committed records directly: its last record, and a range of records with
their keys and deletions, around commit markers and aborted transactions."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import TopicPartition

from workers.kafka.changelog_reading import last_record_offsets, read_changelog
from workers.kafka.topics import ensure_topics

pytestmark = pytest.mark.integration


async def test_the_last_record_and_a_range_skip_markers_and_aborted_writes(
    bootstrap_servers: str,
) -> None:
    topic = f"changelog_{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap_servers, [topic], 2)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, transactional_id=f"reading-{uuid.uuid4().hex[:8]}"
    )
    await producer.start()
    try:
        async with producer.transaction():  # offsets 0, 1; marker 2
            await producer.send_and_wait(topic, b"a", key=b"k1", partition=0)
            await producer.send_and_wait(topic, b"b", key=b"k2", partition=0)
        await producer.begin_transaction()  # offset 3; abort marker 4
        await producer.send_and_wait(topic, b"aborted", key=b"k1", partition=0)
        await producer.abort_transaction()
        async with producer.transaction():  # offset 5; marker 6
            await producer.send_and_wait(topic, None, key=b"k2", partition=0)
        await producer.begin_transaction()  # offset 7; abort marker 8
        await producer.send_and_wait(topic, b"aborted", key=b"k2", partition=0)
        await producer.abort_transaction()
    finally:
        await producer.stop()
    tp, empty = TopicPartition(topic, 0), TopicPartition(topic, 1)
    assert await last_record_offsets(bootstrap_servers, [tp, empty]) == {tp: 5, empty: None}
    assert await read_changelog(bootstrap_servers, tp, 0, 5) == [
        (0, b"k1", b"a"),
        (1, b"k2", b"b"),
        (5, b"k2", None),
    ]
    assert await read_changelog(bootstrap_servers, tp, 1, 1) == [(1, b"k2", b"b")]
