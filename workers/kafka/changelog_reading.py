"""Reading a changelog partition's committed records directly: where they end, and a range of
them with their keys and tombstones (what a table restore applies), at once or fetch by fetch."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
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


ApplyBatch = Callable[[TopicPartition, Sequence[ChangelogRecord]], None]
# Fetch sizes of a restore: large enough that each fetch brings many records of every partition.
RESTORE_PARTITION_FETCH_BYTES = 4 * 1024 * 1024
RESTORE_FETCH_BYTES = 32 * 1024 * 1024


def records_in_range(records: Iterable[Any], first: int, last: int) -> list[ChangelogRecord]:
    """The fetched records at offsets ``first..last`` that a restore applies (keyed ones)."""
    return [
        (record.offset, record.key, record.value)
        for record in records
        if first <= record.offset <= last and record.key is not None
    ]


async def read_changelog_batches(
    bootstrap: str,
    ranges: Mapping[TopicPartition, tuple[int, int]],
    apply: ApplyBatch,
    deadline: float | None = None,
    stall_timeout_s: float = 30.0,
) -> set[TopicPartition]:
    """Hand the committed records at offsets ``first..last`` of each partition to ``apply``, one
    call per partition and fetch, in offset order, with all the partitions read at once.

    Returns the partitions not read to their ``last`` by ``deadline`` (``time.monotonic``; None:
    none). Raises ``TimeoutError`` when the broker delivers nothing new for ``stall_timeout_s``.
    """
    pending = set(ranges)
    if not pending:
        # (A consumer assigned no partition does not stop.)
        return pending
    consumer = new_consumer(
        bootstrap,
        fetch_max_wait_ms=50,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=RESTORE_PARTITION_FETCH_BYTES,
        fetch_max_bytes=RESTORE_FETCH_BYTES,
    )
    await consumer.start()
    try:
        consumer.assign(sorted(pending))
        for tp in pending:
            consumer.seek(tp, ranges[tp][0])
        moved_at = time.monotonic()
        while pending and (deadline is None or time.monotonic() < deadline):
            fetched = await consumer.getmany(*sorted(pending), timeout_ms=200)
            for tp, records in fetched.items():
                first, last = ranges[tp]
                batch = records_in_range(records, first, last)
                if batch:
                    apply(tp, batch)
            if fetched:
                moved_at = time.monotonic()
            for tp in list(pending):
                if await consumer.position(tp) > ranges[tp][1]:
                    pending.discard(tp)
            if pending and time.monotonic() - moved_at > stall_timeout_s:
                names = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(pending))
                raise TimeoutError(f"the broker stopped delivering the changelogs {names}")
    finally:
        await consumer.stop()
    return pending
