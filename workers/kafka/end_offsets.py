"""Where a partition's records end: the offset after its last record a reader can receive.

A committed transaction leaves a commit marker in every partition it wrote to. The marker takes
an offset, but no reader receives it, so the end offset of a partition that a transaction wrote
last is one past a marker, not past a record: a reader waiting for the record just before the end
offset would wait forever. ``record_ends`` reads each partition's tail (committed records only)
to find its last record. On the demo's Tansu fallback the reported end is short instead, and
``broker_quirks`` reads past it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from workers.kafka import broker_quirks
from workers.kafka.broker_quirks import POLL_MS, Poll
from workers.kafka.clients import new_consumer

# Offsets read back from the end at first: a commit marker, or a few aborted records and theirs.
FIRST_WINDOW = 16


async def record_ends(
    consumer: AIOKafkaConsumer,
    reported: Mapping[TopicPartition, int],
    beginnings: Mapping[TopicPartition, int],
    deadline: float,
    poll: Poll,
    poll_ms: int = POLL_MS,
) -> dict[TopicPartition, int]:
    """Per partition, the offset after its last record below its ``reported`` end offset.

    ``beginnings`` is each partition's first offset (0 when not named); a partition with no
    record below its end gets its beginning. Assigns ``consumer`` to the partitions of
    ``reported``; raises ``TimeoutError`` if the tails are not read by ``deadline``
    (``time.monotonic``).
    """
    if broker_quirks.on_tansu():
        return await broker_quirks.read_past_last_batches(
            consumer, reported, beginnings, deadline, poll, poll_ms
        )
    tps = sorted(reported)
    consumer.assign(tps)
    ends: dict[TopicPartition, int] = {}
    window = {tp: FIRST_WINDOW for tp in tps}
    waiting = set(tps)
    while waiting:
        for tp in waiting:
            consumer.seek(tp, max(beginnings.get(tp, 0), reported[tp] - window[tp]))
        last: dict[TopicPartition, int] = {}
        reading = set(waiting)
        while reading:
            if time.monotonic() > deadline:
                names = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(reading))
                raise TimeoutError(f"the broker did not deliver the tail of {names}")
            for tp, records in (await poll(sorted(reading), poll_ms)).items():
                for record in records:
                    if record.offset < reported[tp]:
                        last[tp] = max(last.get(tp, -1), record.offset)
            for tp in list(reading):
                if await consumer.position(tp) >= reported[tp]:
                    reading.discard(tp)
        for tp in list(waiting):
            start = max(beginnings.get(tp, 0), reported[tp] - window[tp])
            if tp in last:
                ends[tp] = last[tp] + 1
            elif start <= beginnings.get(tp, 0):
                ends[tp] = beginnings.get(tp, 0)
            else:
                window[tp] *= 16
                continue
            waiting.discard(tp)
    return ends


async def changelog_ends(
    bootstrap: str, reported: Mapping[TopicPartition, int], timeout_s: float = 30.0
) -> dict[TopicPartition, int]:
    """``record_ends`` of ``reported``, on a consumer of its own."""
    if not any(end > 0 for end in reported.values()):
        return dict(reported)
    consumer = new_consumer(bootstrap, fetch_max_wait_ms=50)

    async def poll(tps: list[TopicPartition], timeout_ms: int) -> dict[TopicPartition, Any]:
        records: dict[TopicPartition, Any] = await consumer.getmany(*tps, timeout_ms=timeout_ms)
        return records

    await consumer.start()
    try:
        beginnings = await consumer.beginning_offsets(list(reported))
        return await record_ends(consumer, reported, beginnings, time.monotonic() + timeout_s, poll)
    finally:
        await consumer.stop()
