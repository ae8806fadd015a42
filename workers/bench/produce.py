"""Produce prepared records to a topic in one go, for the bench's preloaded inputs."""

from __future__ import annotations

import asyncio

from workers.kafka.clients import new_producer


async def produce_all(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = new_producer(
        bootstrap,
        linger_ms=5,
        max_request_size=8_388_608,
        max_batch_size=1_048_576,
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
