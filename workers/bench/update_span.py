"""The stream stage's clock, read from the output itself: the producer timestamps of its updates.

The first update of a run is sent right after the first batch is processed and the last one when
the last batch is flushed, so their CreateTime span is "first processed change to last update
flushed", with the group join before it excluded and nothing polled in the worker meanwhile.
Timer-driven updates (``chart_refresh``, ``pulse_status``) are left out: they are not caused by
the input.
"""

from __future__ import annotations

import time

import orjson
from aiokafka.structs import ConsumerRecord

from workers.bench.passthrough import assign_all
from workers.kafka.clients import new_consumer

TIMER_TYPES = frozenset({"chart_refresh", "pulse_status"})


def span_seconds(records: list[ConsumerRecord[bytes, bytes]]) -> float:
    stamps: list[int] = [
        record.timestamp
        for record in records
        if orjson.loads(record.value).get("type") not in TIMER_TYPES
    ]
    if len(stamps) < 2:
        raise RuntimeError("the worker published fewer than two updates; nothing to time")
    return (max(stamps) - min(stamps)) / 1000


async def read_until_quiet(
    bootstrap: str, topic: str, quiet_s: float = 2.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic``; the broker's end offsets are not trusted, silence is."""
    consumer = new_consumer(bootstrap)
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        await assign_all(consumer, bootstrap, topic)
        last_new = time.monotonic()
        while time.monotonic() - last_new < quiet_s:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for part in batch.values():
                records.extend(part)
                last_new = time.monotonic()
    finally:
        await consumer.stop()
    return records
