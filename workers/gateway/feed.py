"""The gateway's one Kafka consumer: every partition of ``dashboard_updates``, committed records
only, from the start of the topic, into the hub.

It belongs to no consumer group and commits nothing, so replicas are independent: each reads the
whole topic and holds the same state. The gateway is ready once it has read up to the ends the
topic had when it started.
"""

from __future__ import annotations

import asyncio

import structlog
from aiokafka import TopicPartition

from workers.gateway.hub import Hub
from workers.kafka.clients import new_consumer, partitions_of
from workers.observability.readiness import Readiness

log = structlog.get_logger("pulse.gateway.feed")

LOADED = "loaded"
TOPIC_WAIT_S = 30.0
FETCH_MAX_RECORDS = 2000
# Records taken in before the clients' writers get a turn: a fetched burst would otherwise land
# in their queues all at once and could pass a client's limit without it being slow at all.
RECORDS_PER_TURN = 64


class TopicNotFound(RuntimeError):
    pass


async def run_feed(
    bootstrap: str, topic: str, hub: Hub, readiness: Readiness, stop: asyncio.Event
) -> None:
    partitions = await partitions_of(bootstrap, topic, wait_s=TOPIC_WAIT_S)
    if not partitions:
        raise TopicNotFound(f"topic {topic} does not exist at {bootstrap}")
    consumer = new_consumer(
        bootstrap,
        fetch_max_wait_ms=20,
        max_partition_fetch_bytes=1024 * 1024,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        beginnings = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        hub.set_partitions(len(tps), {tp.partition for tp in tps if beginnings[tp] > 0})
        # An explicit position: a lazy reset to the beginning can lose the race with the
        # assignment's own reset, and a partition then looks read before any record was taken.
        for tp in tps:
            consumer.seek(tp, beginnings[tp])
        log.info(
            "reading dashboard_updates",
            topic=topic,
            partitions=len(tps),
            records=sum(ends[tp] - beginnings[tp] for tp in tps),
        )
        loading = {tp for tp in tps if ends[tp] > beginnings[tp]}
        if not loading:
            _loaded(hub, readiness)
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=FETCH_MAX_RECORDS)
            taken = 0
            for tp, records in batches.items():
                for record in records:
                    hub.take(record.key, record.value, f"{tp.partition}@{record.offset}")
                    taken += 1
                    if taken % RECORDS_PER_TURN == 0:
                        await asyncio.sleep(0)
            if loading:
                for tp in list(loading):
                    if await consumer.position(tp) >= ends[tp]:
                        loading.discard(tp)
                if not loading:
                    _loaded(hub, readiness)
    finally:
        await consumer.stop()


def _loaded(hub: Hub, readiness: Readiness) -> None:
    hub.loaded = True
    readiness.set(LOADED)
    log.info("dashboard_updates read; serving", sites=hub.sites())
