"""Reading a hole of source offsets directly, on the real broker."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer

from workers.stream.reread import read_range

pytestmark = pytest.mark.integration


async def test_read_range_returns_exactly_the_offsets_asked_for(bootstrap_servers: str) -> None:
    topic = f"reread_{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        for number in range(10):
            # One send at a time: every record is its own batch with its own offset.
            await (await producer.send(topic, f"m{number}".encode(), partition=0))
    finally:
        await producer.stop()

    records = await read_range(bootstrap_servers, topic, 0, 3, 7)

    assert records == [(offset, f"m{offset}".encode()) for offset in range(3, 7)]


async def test_read_range_raises_when_the_offsets_do_not_exist(bootstrap_servers: str) -> None:
    topic = f"reread_{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        await (await producer.send(topic, b"only", partition=0))
    finally:
        await producer.stop()

    with pytest.raises(TimeoutError, match="read 0 of the 2 records"):
        await read_range(bootstrap_servers, topic, 0, 5, 7, timeout_s=2)
