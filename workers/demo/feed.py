"""Reading ``dashboard_updates`` and the quarantine topic into the demo's ``DashboardState``.

No consumer group: the view assigns itself every partition of both topics, so it joins nothing,
waits for no rebalance and leaves no committed offsets behind.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from aiokafka import TopicPartition
from pydantic import ValidationError

from schemas.changes import RejectedRecord
from schemas.updates import dashboard_update_adapter
from workers.demo.dashboard_state import (
    DashboardState,
    apply_rejected,
    apply_update,
    note_undecodable_update,
)
from workers.kafka.clients import new_consumer, partitions_of
from workers.settings import KafkaSettings

log = structlog.get_logger("pulse.demo.feed")

POLL_TIMEOUT_MS = 200
MAX_RECORDS = 5000


async def _partitions(bootstrap: str, topic: str, within_s: float) -> list[TopicPartition]:
    partitions = await partitions_of(bootstrap, topic, wait_s=within_s)
    if not partitions:
        raise RuntimeError(f"topic {topic!r} has no partitions after {within_s:.0f}s")
    return [TopicPartition(topic, p) for p in sorted(partitions)]


async def follow(
    bootstrap: str,
    kafka: KafkaSettings,
    state: DashboardState,
    stop: asyncio.Event,
    ready: asyncio.Event,
    from_beginning: bool,
) -> None:
    """Fold both topics into ``state`` until ``stop``; ``ready`` is set once positioned."""
    consumer = new_consumer(
        bootstrap, group_id=None, auto_offset_reset="earliest" if from_beginning else "latest"
    )
    await consumer.start()
    try:
        updates = await _partitions(bootstrap, kafka.updates_topic, 30)
        rejected = await _partitions(bootstrap, kafka.rejected_topic, 30)
        consumer.assign(updates + rejected)
        if from_beginning:
            await consumer.seek_to_beginning()
        else:
            await consumer.seek_to_end()
        ready.set()
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=POLL_TIMEOUT_MS, max_records=MAX_RECORDS)
            now = time.monotonic()
            for partition, records in batches.items():
                is_update = partition.topic == kafka.updates_topic
                for record in records:
                    if record.value is None:
                        continue
                    if is_update:
                        _fold_update(state, record.value, now)
                    else:
                        _fold_rejected(state, record.value)
    finally:
        await consumer.stop()


def _fold_update(state: DashboardState, raw: bytes, now: float) -> None:
    try:
        update = dashboard_update_adapter.validate_json(raw)
    except ValidationError as exc:
        note_undecodable_update(state)
        log.warning("undecodable dashboard update", error=str(exc)[:300])
        return
    apply_update(state, update, now)


def _fold_rejected(state: DashboardState, raw: bytes) -> None:
    try:
        rejected = RejectedRecord.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("undecodable quarantine record", error=str(exc)[:300])
        return
    apply_rejected(state, rejected)
