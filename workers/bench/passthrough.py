"""The client-library limit: raw aiokafka consume, parse, produce one message per change, batched.

It reads the same ``supabase_changes`` records the stream worker reads (``ChangeBatch``
envelopes), parses each with orjson and produces every change as its own message, appended to
per-partition record batches (aiokafka's ``create_batch``/``send_batch``, its cheapest way to
produce); the clock runs from the first record consumed to the last batch acknowledged.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from workers.bench.timing import StageRate
from workers.kafka.clients import new_consumer, new_producer, partitions_of
from workers.kafka.partitioner import partition_for
from workers.kafka.topics import ensure_topics

SINK_PARTITIONS = 8


async def assign_all(consumer: AIOKafkaConsumer, bootstrap: str, topic: str) -> None:
    partitions = await partitions_of(bootstrap, topic, wait_s=30)
    if not partitions:
        raise RuntimeError(f"topic {topic} does not exist")
    consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
    await consumer.seek_to_beginning()


async def measure_passthrough(
    bootstrap: str, source_topic: str, sink_topic: str, expected_changes: int
) -> StageRate:
    await ensure_topics(bootstrap, [sink_topic], SINK_PARTITIONS)
    consumer = new_consumer(
        bootstrap,
        max_partition_fetch_bytes=8_388_608,
        fetch_max_bytes=52_428_800,
    )
    producer = new_producer(bootstrap, max_batch_size=1_048_576)
    await consumer.start()
    await producer.start()
    try:
        await assign_all(consumer, bootstrap, source_topic)
        builders: dict[int, Any] = {}
        sent: list[asyncio.Future[Any]] = []

        async def flush(partition: int) -> None:
            sent.append(
                await producer.send_batch(builders.pop(partition), sink_topic, partition=partition)
            )

        moved = 0
        started: float | None = None
        cpu_started = 0.0
        deadline = time.monotonic() + 300
        while moved < expected_changes and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            for records in batches.values():
                if started is None:
                    started, cpu_started = time.perf_counter(), time.process_time()
                for record in records:
                    partition = partition_for(record.key, SINK_PARTITIONS)
                    for change in orjson.loads(record.value)["changes"]:
                        value = orjson.dumps(change)
                        builder = builders.get(partition)
                        if builder is None:
                            builder = builders[partition] = producer.create_batch()
                        if builder.append(timestamp=None, key=record.key, value=value) is None:
                            await flush(partition)
                            builder = builders[partition] = producer.create_batch()
                            builder.append(timestamp=None, key=record.key, value=value)
                        moved += 1
            for partition in list(builders):
                await flush(partition)
        await asyncio.gather(*sent)
        if started is None or moved < expected_changes:
            raise RuntimeError(f"passthrough moved {moved} of {expected_changes} changes")
        return StageRate(moved, time.perf_counter() - started, time.process_time() - cpu_started)
    finally:
        await producer.stop()
        await consumer.stop()
