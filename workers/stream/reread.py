"""Reading a range of source offsets directly, for the holes Faust skipped (``continuity``)."""

from __future__ import annotations

import time

from aiokafka.structs import TopicPartition

from workers.kafka.clients import new_consumer


async def read_range(
    bootstrap: str, topic: str, partition: int, start: int, end: int, timeout_s: float = 30.0
) -> list[tuple[int, bytes]]:
    """``(offset, value)`` of every record in ``[start, end)``; raises if they are not all read."""
    consumer = new_consumer(bootstrap, fetch_max_wait_ms=50)
    await consumer.start()
    tp = TopicPartition(topic, partition)
    records: dict[int, bytes] = {}
    try:
        consumer.assign([tp])
        consumer.seek(tp, start)
        deadline = time.monotonic() + timeout_s
        while len(records) < end - start:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"read {len(records)} of the {end - start} records at {topic}[{partition}] "
                    f"offsets {start}..{end - 1}"
                )
            batch = await consumer.getmany(tp, timeout_ms=200, max_records=10_000)
            for record in batch.get(tp, []):
                if start <= record.offset < end and record.value is not None:
                    records[record.offset] = record.value
            if await consumer.position(tp) >= end:
                break
    finally:
        await consumer.stop()
    return sorted(records.items())
