"""Reading a hole of source offsets directly, on the real broker."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer

from workers.stream.reread import read_range

pytestmark = pytest.mark.integration


async def topic_with(bootstrap: str, values: list[bytes]) -> str:
    """A fresh one-partition topic holding ``values`` at offsets 0, 1, ..."""
    topic = f"reread_{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value in values:
            # One send at a time: every record is its own batch with its own offset.
            await (await producer.send(topic, value, partition=0))
    finally:
        await producer.stop()
    return topic


async def test_read_range_returns_exactly_the_offsets_asked_for(bootstrap_servers: str) -> None:
    topic = await topic_with(bootstrap_servers, [f"m{number}".encode() for number in range(10)])

    records = await read_range(bootstrap_servers, topic, 0, 3, 7)

    assert records == [(offset, f"m{offset}".encode()) for offset in range(3, 7)]


async def test_read_range_raises_when_the_offsets_do_not_exist(bootstrap_servers: str) -> None:
    topic = await topic_with(bootstrap_servers, [b"only"])

    with pytest.raises(TimeoutError, match="read 0 of the 2 records"):
        await read_range(bootstrap_servers, topic, 0, 5, 7, timeout_s=2)
