"""Sending many records at once as per-partition record batches, and waiting for their acks.

A worker batch produces tens of thousands of records (updates, rejects, changelog writes).
Going through ``send`` costs a coroutine, a future and partitioning per record; filling
aiokafka record batches directly (``create_batch``/``send_batch``) costs an append, which is
what keeps the per-change work small.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

KeyValue = tuple[bytes | None, bytes | None]


async def send_grouped(
    producer: Any, by_partition: Mapping[tuple[str, int], Iterable[KeyValue]]
) -> dict[tuple[str, int], int]:
    """Send each (topic, partition)'s records in order, wait for every ack; newest offsets.

    The offset reported for a partition is the base offset of its last batch, never beyond the
    last record, which is what the callers need (a safe lower bound to resume reading from).
    """
    keys = list(by_partition)
    offsets = await asyncio.gather(
        *(
            _send_partition(producer, topic, partition, by_partition[(topic, partition)])
            for topic, partition in keys
        )
    )
    return dict(zip(keys, offsets, strict=True))


async def _send_partition(
    producer: Any, topic: str, partition: int, items: Iterable[KeyValue]
) -> int:
    futures = []
    batch = producer.create_batch()
    for key, value in items:
        if batch.append(key=key, value=value, timestamp=None) is None:
            futures.append(await producer.send_batch(batch, topic, partition=partition))
            batch = producer.create_batch()
            # aiokafka's builder takes any record into an empty batch, whatever its size (the
            # request size is the broker's limit), so this append cannot be refused.
            batch.append(key=key, value=value, timestamp=None)
    futures.append(await producer.send_batch(batch, topic, partition=partition))
    results = await asyncio.gather(*futures)
    return int(results[-1].offset)
