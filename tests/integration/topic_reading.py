"""Reading a whole topic in tests, without trusting the broker's end offsets.

The bundled broker under-reports end offsets after multi-record batches, so "read everything"
means: keep polling until the expected count is reached and nothing new arrived for a quiet spell.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from schemas.changes import ChangeRecord, RejectedRecord
from workers.kafka.clients import new_consumer, partitions_of
from workers.kafka.codec import decode_batch

Item = TypeVar("Item")


async def read_topic(
    bootstrap: str,
    topic: str,
    decode: Callable[[ConsumerRecord[bytes, bytes]], list[Item]],
    *,
    min_items: int = 0,
    quiet_s: float = 1.5,
    timeout_s: float = 90.0,
) -> list[Item]:
    """Every item of ``topic`` from offset 0; waits for ``min_items``, then for a quiet spell."""
    consumer = new_consumer(bootstrap)
    await consumer.start()
    items: list[Item] = []
    try:
        deadline = time.monotonic() + timeout_s
        partitions = await partitions_of(bootstrap, topic, wait_s=timeout_s)
        assert partitions, f"topic {topic} does not exist"
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        await consumer.seek_to_beginning()
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            fresh = [record for part in batch.values() for record in part]
            for record in fresh:
                items.extend(decode(record))
            if fresh:
                last_new = time.monotonic()
            elif len(items) >= min_items and time.monotonic() - last_new >= quiet_s:
                break
    finally:
        await consumer.stop()
    return items


def _changes(record: ConsumerRecord[bytes, bytes]) -> list[ChangeRecord]:
    batch = decode_batch(record.value)
    assert record.key == batch.site_id.encode(), "a batch must be keyed by its site"
    return batch.changes


def _rejected(record: ConsumerRecord[bytes, bytes]) -> list[RejectedRecord]:
    return [RejectedRecord.model_validate_json(record.value)]


async def read_changes(
    bootstrap: str,
    topic: str,
    *,
    min_changes: int = 0,
    quiet_s: float = 1.5,
    timeout_s: float = 90.0,
) -> list[ChangeRecord]:
    return await read_topic(
        bootstrap, topic, _changes, min_items=min_changes, quiet_s=quiet_s, timeout_s=timeout_s
    )


async def read_rejected(
    bootstrap: str,
    topic: str,
    *,
    min_records: int = 0,
    quiet_s: float = 1.5,
    timeout_s: float = 90.0,
) -> list[RejectedRecord]:
    return await read_topic(
        bootstrap, topic, _rejected, min_items=min_records, quiet_s=quiet_s, timeout_s=timeout_s
    )
