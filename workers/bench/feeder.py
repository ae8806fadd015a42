"""Steady synthetic input for the recovery stage: every partition keeps getting new changes, so
a partition's committed offset moves again as soon as an owner processes it."""

from __future__ import annotations

import asyncio
import contextlib

from workers.bench.synthetic import synthetic_batches
from workers.kafka.clients import new_producer

TICK_S = 0.1


async def feed(bootstrap: str, topic: str, rate: float, sites: int, stop: asyncio.Event) -> int:
    """Send about ``rate`` distinct changes per second over ``sites`` new sites per tick (keys
    spread over the partitions) until ``stop``; the number of changes sent."""
    per_tick = max(int(rate * TICK_S), 2 * sites)
    producer = new_producer(bootstrap, linger_ms=5)
    await producer.start()
    sent = 0
    try:
        while not stop.is_set():
            messages = await asyncio.to_thread(synthetic_batches, per_tick, sites)
            for key, value in messages:
                await producer.send(topic, value, key=key)
            sent += per_tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_S)
        await producer.flush()
    finally:
        await producer.stop()
    return sent
