"""End offsets that count every record, also on a broker that under-reports them.

The bundled broker reports a partition's high watermark as the base offset of its last record
batch + 1, so after a multi-record batch the reported end falls short of the records it holds
(Apache Kafka reports the offset after the last record). Reading each partition from its
reported end - 1, which is where that last batch starts (the last record, on Apache Kafka),
gives the offset after the records found there: on a broker that reports correctly it changes
nothing. ``read_past_last_batches`` does that on a consumer it is given (the CLI tools' reader);
``true_end_offsets`` on a consumer of its own (the worker's changelog recovery).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

Poll = Callable[[list[TopicPartition], int], Awaitable[Mapping[TopicPartition, Sequence[Any]]]]
POLL_MS = 200


async def read_past_last_batches(
    consumer: AIOKafkaConsumer,
    reported: Mapping[TopicPartition, int],
    beginnings: Mapping[TopicPartition, int],
    deadline: float,
    poll: Poll,
    poll_ms: int = POLL_MS,
) -> dict[TopicPartition, int]:
    """``reported`` with each non-empty partition's end moved past the records of its last batch.

    Assigns ``consumer`` to the partitions of ``reported``. A partition is empty when its
    reported end is not above its beginning (0 when ``beginnings`` does not name it). Raises
    ``TimeoutError`` when some last batch has not arrived by ``deadline`` (``time.monotonic``).
    """
    tps = sorted(reported)
    ends = dict(reported)
    waiting = {tp for tp in tps if reported[tp] > beginnings.get(tp, 0)}
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, max(beginnings.get(tp, 0), reported[tp] - 1))
    while waiting:
        if time.monotonic() > deadline:
            names = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(waiting))
            raise TimeoutError(f"the broker did not deliver the last record batch of {names}")
        for tp, records in (await poll(tps, poll_ms)).items():
            if records:
                ends[tp] = max(ends[tp], records[-1].offset + 1)
                waiting.discard(tp)
    return ends


async def true_end_offsets(
    bootstrap: str, reported: Mapping[TopicPartition, int], timeout_s: float = 30.0
) -> dict[TopicPartition, int]:
    """``reported`` with each end moved past the records of the partition's last batch."""
    if not any(end > 0 for end in reported.values()):
        return dict(reported)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
    )

    async def poll(tps: list[TopicPartition], timeout_ms: int) -> dict[TopicPartition, Any]:
        records: dict[TopicPartition, Any] = await consumer.getmany(*tps, timeout_ms=timeout_ms)
        return records

    await consumer.start()
    try:
        return await read_past_last_batches(
            consumer, reported, {}, time.monotonic() + timeout_s, poll
        )
    finally:
        await consumer.stop()
