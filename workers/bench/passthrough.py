"""The client-library limit: raw aiokafka consume, parse, produce one message per change, batched.

It reads the same ``supabase_changes`` records the stream worker reads (``ChangeBatch``
envelopes), parses each with orjson and produces every change as its own message without
awaiting each send; the clock runs from the first record consumed to the last send acknowledged.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from workers.bench.timing import StageRate


async def measure_passthrough(
    bootstrap: str, source_topic: str, sink_topic: str, expected_changes: int
) -> StageRate:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8_388_608,
        fetch_max_bytes=52_428_800,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1_048_576, acks=1
    )
    await consumer.start()
    await producer.start()
    try:
        partitions = consumer.partitions_for_topic(source_topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(source_topic) or set()
        consumer.assign([TopicPartition(source_topic, p) for p in sorted(partitions)])
        await consumer.seek_to_beginning()
        moved = 0
        started: float | None = None
        pending: list[asyncio.Future[Any]] = []
        deadline = time.monotonic() + 300
        while moved < expected_changes and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            for records in batches.values():
                if started is None:
                    started = time.perf_counter()
                for record in records:
                    for change in orjson.loads(record.value)["changes"]:
                        pending.append(
                            await producer.send(sink_topic, orjson.dumps(change), key=record.key)
                        )
                        moved += 1
            if len(pending) > 50_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        if started is None or moved < expected_changes:
            raise RuntimeError(f"passthrough moved {moved} of {expected_changes} changes")
        return StageRate(moved, time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()
