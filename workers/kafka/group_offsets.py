"""Where a consumer group resumes reading partitions of a topic, as the broker has it now."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.structs import TopicPartition

from workers.kafka.clients import new_admin, new_consumer


def resume_offset(committed: int | None, log_start: int | None) -> int | None:
    """The first record a partition's owner reads; None when neither offset is known.

    A partition with nothing committed starts at its log start (``auto_offset_reset`` is
    ``earliest``), and a committed offset below the log start resumes at the log start, as the
    consumer does.
    """
    if committed is None:
        return log_start
    if log_start is None:
        return committed
    return max(committed, log_start)


async def resume_offsets(
    bootstrap: str, group_id: str, topic: str, partitions: Iterable[int]
) -> dict[int, int | None]:
    """Per partition, the group's committed offset, or the log start without one."""
    tps = [TopicPartition(topic, partition) for partition in sorted(set(partitions))]
    if not tps:
        return {}
    admin = new_admin(bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group_id, partitions=tps)
    finally:
        await admin.close()
    consumer = new_consumer(bootstrap)
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets(tps)
    finally:
        await consumer.stop()
    offsets: dict[int, int | None] = {}
    for tp in tps:
        found = committed.get(tp)
        offset = found.offset if found is not None and found.offset >= 0 else None
        offsets[tp.partition] = resume_offset(offset, starts.get(tp))
    return offsets
