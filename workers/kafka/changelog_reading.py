"""Reading a changelog partition's committed records directly: where they end, and a range of
them with their keys and tombstones (what a table restore applies)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from aiokafka.structs import TopicPartition

from workers.kafka.clients import new_consumer
from workers.kafka.end_offsets import record_ends

ChangelogRecord = tuple[int, bytes, bytes | None]  # offset, key, value (None: a deletion)


async def last_record_offsets(
    bootstrap: str, tps: Sequence[TopicPartition], timeout_s: float = 30.0
) -> dict[TopicPartition, int | None]:
    """Per partition, the offset of its last committed record (None when it holds none)."""
    consumer = new_consumer(bootstrap, fetch_max_wait_ms=50)

    async def poll(partitions: list[TopicPartition], timeout_ms: int) -> dict[TopicPartition, Any]:
        records: dict[TopicPartition, Any] = await consumer.getmany(
            *partitions, timeout_ms=timeout_ms
        )
        return records

    await consumer.start()
    try:
        reported = await consumer.end_offsets(list(tps))
        beginnings = await consumer.beginning_offsets(list(tps))
        ends = await record_ends(consumer, reported, beginnings, time.monotonic() + timeout_s, poll)
    finally:
        await consumer.stop()
    return {tp: ends[tp] - 1 if ends[tp] > beginnings.get(tp, 0) else None for tp in tps}


async def read_changelog(
    bootstrap: str, tp: TopicPartition, first: int, last: int, timeout_s: float = 30.0
) -> list[ChangelogRecord]:
    """The committed records at offsets ``first..last`` (both included), in offset order.

    Raises ``TimeoutError`` when the broker has not delivered up to ``last`` in time.
    """
    consumer = new_consumer(bootstrap, fetch_max_wait_ms=50, auto_offset_reset="earliest")
    await consumer.start()
    records: list[ChangelogRecord] = []
    try:
        consumer.assign([tp])
        consumer.seek(tp, first)
        deadline = time.monotonic() + timeout_s
        while await consumer.position(tp) <= last:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the broker did not deliver {tp.topic}[{tp.partition}] up to offset {last}"
                )
            batch = await consumer.getmany(tp, timeout_ms=200, max_records=10_000)
            for record in batch.get(tp, []):
                if first <= record.offset <= last and record.key is not None:
                    records.append((record.offset, record.key, record.value))
    finally:
        await consumer.stop()
    return records
