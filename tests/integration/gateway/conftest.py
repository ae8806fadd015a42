"""A gateway running in the test's event loop on the throwaway Kafka and Postgres."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaProducer

from schemas.updates import ChartRefresh, IntentCreated, IntentView, KpiSnapshot, KpiUpdated
from tests.unit.gateway.tokens import SECRET
from workers.gateway.server import GatewayStarted, run_gateway
from workers.gateway.settings import GatewaySettings
from workers.kafka.clients import new_producer
from workers.kafka.topics import ensure_project_topics
from workers.settings import KafkaSettings


@dataclass
class RunningGateway:
    base: str
    stop: asyncio.Event
    task: asyncio.Task[None]


StartGateway = Callable[..., Awaitable[RunningGateway]]


@pytest.fixture
async def topics(kafka_settings: KafkaSettings) -> KafkaSettings:
    assert kafka_settings.bootstrap_servers
    await ensure_project_topics(kafka_settings.bootstrap_servers, kafka_settings)
    return kafka_settings


@pytest.fixture
async def start_gateway(topics: KafkaSettings, fresh_db: str) -> AsyncIterator[StartGateway]:
    running: list[RunningGateway] = []

    async def start(**settings: Any) -> RunningGateway:
        values: dict[str, Any] = {
            "PULSE_GATEWAY_PORT": 0,
            "SUPABASE_JWT_SECRET": SECRET,
            "PULSE_GATEWAY_AUTH_SWEEP_S": 0.2,
            **settings,
        }
        stop = asyncio.Event()
        started = GatewayStarted()
        assert topics.bootstrap_servers
        task = asyncio.create_task(
            run_gateway(
                GatewaySettings(**values),
                bootstrap=topics.bootstrap_servers,
                topic=topics.updates_topic,
                dsn=fresh_db,
                stop=stop,
                started=started,
            )
        )
        await asyncio.wait_for(started.bound.wait(), 30)
        gateway = RunningGateway(f"http://127.0.0.1:{started.port}", stop, task)
        running.append(gateway)
        return gateway

    yield start
    for gateway in running:
        gateway.stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(gateway.task, 30)


@pytest.fixture
async def producer(topics: KafkaSettings) -> AsyncIterator[AIOKafkaProducer]:
    assert topics.bootstrap_servers
    producer = new_producer(topics.bootstrap_servers)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


def new_site(dsn: str, members: list[str]) -> str:
    site_id = str(uuid.uuid4())
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (id, name) VALUES (%s, %s)", (site_id, "gateway test"))
        for user_id in members:
            conn.execute(
                "INSERT INTO site_members (user_id, site_id) VALUES (%s, %s)", (user_id, site_id)
            )
    return site_id


def revoke(dsn: str, user_id: str, site_id: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM site_members WHERE user_id = %s AND site_id = %s", (user_id, site_id)
        )


NOW = datetime.now(UTC)


def kpi_update(site_id: str, seq: int, events: int) -> KpiUpdated:
    return KpiUpdated(
        site_id=site_id,
        seq=seq,
        emitted_at=NOW,
        commit_timestamp=NOW,
        kpis=KpiSnapshot(day=date(2026, 12, 1), events=events),
    )


def intent_update(site_id: str, seq: int) -> IntentCreated:
    return IntentCreated(
        site_id=site_id,
        seq=seq,
        emitted_at=NOW,
        intent=IntentView(id=str(uuid.uuid4()), status="open", created_at=NOW, updated_at=NOW),
    )


def big_chart(site_id: str, seq: int) -> ChartRefresh:
    """About 30 kB: a whole day of 5-minute buckets."""
    from datetime import timedelta

    from schemas.updates import TimelineBucket

    start = datetime(2026, 12, 1, tzinfo=UTC)
    buckets = [TimelineBucket(start=start + timedelta(minutes=5 * i), events=i) for i in range(288)]
    return ChartRefresh(
        site_id=site_id, seq=seq, emitted_at=NOW, day=date(2026, 12, 1), buckets=buckets
    )


async def send(producer: AIOKafkaProducer, topic: str, updates: list[Any]) -> None:
    futures = [
        await producer.send(topic, u.model_dump_json().encode(), key=u.site_id.encode())
        for u in updates
    ]
    for future in futures:
        await future
