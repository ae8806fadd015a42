"""Producing records straight to the test's own topics, as the stream worker would."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
from aiokafka import AIOKafkaProducer

from schemas.updates import DashboardUpdate
from workers.kafka.topics import ensure_project_topics
from workers.settings import KafkaSettings


@pytest.fixture
async def topics(kafka_settings: KafkaSettings) -> KafkaSettings:
    assert kafka_settings.bootstrap_servers is not None
    await ensure_project_topics(kafka_settings.bootstrap_servers, kafka_settings)
    return kafka_settings


@pytest.fixture
async def producer(kafka_settings: KafkaSettings) -> AsyncIterator[AIOKafkaProducer]:
    # linger_ms makes multi-record batches, so the tests meet the broker's under-reported end
    # offsets the way real traffic does.
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_settings.bootstrap_servers, linger_ms=20, enable_idempotence=False
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def send_updates(
    producer: AIOKafkaProducer, topic: str, updates: Sequence[DashboardUpdate]
) -> list[tuple[int, int]]:
    """Sends updates keyed by site; returns each one's (partition, offset)."""
    futures = [
        await producer.send(topic, u.model_dump_json().encode(), key=u.site_id.encode())
        for u in updates
    ]
    metadata = [await f for f in futures]
    return [(m.partition, m.offset) for m in metadata]
