"""What the demo's fallback broker (Tansu) lacks, in one place; Apache Kafka never needs it.

``PULSE_BROKER=tansu`` says that the clients talk to Tansu. The demo sets it for its children when
it falls back to that broker on a machine without Java. Tansu hands out no producer IDs and has
no transactions, so producers there are plain at-least-once ones, consumers read uncommitted and
the stream worker runs without transactions; dedup by event ID keeps the results exact.

Tansu also reports a partition's high watermark as the base offset of its last record batch + 1,
not the offset after the batch's last record: after a multi-record batch the reported end falls
short of the records the partition holds. ``read_past_last_batches`` reads each partition from
its reported end - 1, where that last batch starts, to learn the real end.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from workers.settings import BrokerSettings

TANSU = "tansu"

Poll = Callable[[list[TopicPartition], int], Awaitable[Mapping[TopicPartition, Sequence[Any]]]]
POLL_MS = 200


def on_tansu() -> bool:
    return BrokerSettings().broker == TANSU


def producer_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` for an aiokafka producer, without idempotence on Tansu."""
    if on_tansu():
        return {**settings, "enable_idempotence": False}
    return settings


def consumer_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` for an aiokafka consumer, reading uncommitted on Tansu."""
    if on_tansu():
        return {**settings, "isolation_level": "read_uncommitted"}
    return settings


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


async def real_ends(
    consumer: AIOKafkaConsumer,
    reported: Mapping[TopicPartition, int],
    beginnings: Mapping[TopicPartition, int],
    deadline: float,
    poll: Poll,
    poll_ms: int = POLL_MS,
) -> dict[TopicPartition, int]:
    """The end offsets a reader needs, from Tansu's short ones: past the last batch, then past
    what one more poll brings (under steady writes the polls never go quiet)."""
    ends = await read_past_last_batches(consumer, reported, beginnings, deadline, poll, poll_ms)
    for tp, records in (await poll(sorted(reported), poll_ms)).items():
        if records:
            ends[tp] = max(ends[tp], records[-1].offset + 1)
    return ends


async def start_offset_for_time(
    consumer: AIOKafkaConsumer, tp: TopicPartition, at_ms: int, beginning: int
) -> int:
    """A safe place to start scanning for the first record stamped at or after ``at_ms``.

    Tansu answers ListOffsets by timestamp with offset 0 and timestamp -1 for any time after the
    first record, so an answer is used only when it is self-consistent; otherwise the scan starts
    at the beginning and the reader skips the earlier records by their timestamps.
    """
    try:
        found = (await consumer.offsets_for_times({tp: at_ms}))[tp]
    except KafkaError:
        return beginning
    if found is not None and found.timestamp >= at_ms:
        return max(beginning, int(found.offset))
    return beginning
