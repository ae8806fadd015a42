"""Fixtures of the stream tests: the real WAL ingest in-process, workers as subprocesses."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.integration.stream.harness import TopicReader, WorkerProcess
from workers.ingest.settings import WalIngestSettings
from workers.ingest.wal.runner import IngestProgress, run_wal_ingest
from workers.kafka.topics import ensure_project_topics
from workers.settings import KafkaSettings


@pytest.fixture
def app_id() -> str:
    """A fresh consumer group per test: a group would otherwise wait out dead members."""
    return f"pulse-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.kill()


@pytest.fixture
async def topics(kafka_settings: KafkaSettings) -> KafkaSettings:
    assert kafka_settings.bootstrap_servers
    await ensure_project_topics(kafka_settings.bootstrap_servers, kafka_settings)
    return kafka_settings


@pytest.fixture
async def wal_ingest(fresh_db: str, topics: KafkaSettings) -> AsyncIterator[IngestProgress]:
    stop = asyncio.Event()
    progress = IngestProgress()
    task = asyncio.create_task(
        run_wal_ingest(
            fresh_db, topics, WalIngestSettings(PULSE_HEARTBEAT_INTERVAL_S=1.0), stop, progress
        )
    )
    waiter = asyncio.ensure_future(progress.streaming.wait())
    done, _ = await asyncio.wait({waiter, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    assert waiter in done, "the WAL ingest did not start streaming"
    try:
        yield progress
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@pytest.fixture
async def updates(topics: KafkaSettings) -> AsyncIterator[TopicReader]:
    assert topics.bootstrap_servers
    reader = TopicReader(topics.bootstrap_servers, topics.updates_topic)
    await reader.start()
    yield reader
    await reader.stop()


@pytest.fixture
async def rejected(topics: KafkaSettings) -> AsyncIterator[TopicReader]:
    assert topics.bootstrap_servers
    reader = TopicReader(topics.bootstrap_servers, topics.rejected_topic)
    await reader.start()
    yield reader
    await reader.stop()


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    return tmp_path
