"""End offsets that count every record, also on a broker that under-reports them.

The bundled broker reports a partition's high watermark as the base offset of its last record
batch + 1, so after a multi-record batch the reported end falls short of the records it holds
(Apache Kafka reports the offset after the last record). ``true_end_offsets`` reads each
partition from its reported end - 1, which is where that last batch starts (the last record, on
Apache Kafka), and returns the position after the records found there: on a broker that
reports correctly it changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition


async def true_end_offsets(
    bootstrap: str, reported: Mapping[TopicPartition, int], timeout_s: float = 30.0
) -> dict[TopicPartition, int]:
    """``reported`` with each end moved past the records of the partition's last batch."""
    ends = dict(reported)
    pending = {tp for tp, end in reported.items() if end > 0}
    if not pending:
        return ends
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    await consumer.start()
    try:
        consumer.assign(sorted(pending))
        for tp in pending:
            consumer.seek(tp, reported[tp] - 1)
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the last record batch of {len(pending)} partitions was not readable, "
                    f"e.g. {min(pending)} from offset {reported[min(pending)] - 1}"
                )
            await consumer.getmany(*pending, timeout_ms=200)
            for tp in list(pending):
                position = await consumer.position(tp)
                if position >= reported[tp]:
                    ends[tp] = position
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return ends
