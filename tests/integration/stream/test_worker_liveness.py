"""A real stream worker's ``/healthz``: failing while it does not fetch lagging partitions, and
for good after its event loop stalled past the limit (``hooked_worker`` stops either)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.integration.stream.harness import WorkerProcess, start_worker
from workers.kafka.clients import new_producer
from workers.services.ports import free_port
from workers.settings import KafkaSettings

pytestmark = pytest.mark.integration

FETCH_STALL_LIMIT_S = 3.0
LOOP_STALL_LIMIT_S = 2.0
HOOKED = (sys.executable, "-m", "tests.integration.stream.hooked_worker")


async def _get(url: str) -> tuple[int, str] | None:
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response,
        ):
            return response.status, await response.text()
    except (aiohttp.ClientError, TimeoutError):
        return None


async def _wait_status(
    worker: WorkerProcess, url: str, status: int, within_s: float, stage: str
) -> tuple[int, str]:
    deadline = time.monotonic() + within_s
    seen: list[tuple[int, str] | None] = []
    while time.monotonic() < deadline:
        assert worker.process.poll() is None, f"the worker exited:\n{worker.log()[-3000:]}"
        answer = await _get(url)
        seen.append(answer)
        if answer is not None and answer[0] == status:
            return answer
        await asyncio.sleep(0.25)
    raise AssertionError(f"{stage}: {url} never answered {status}; last answers {seen[-3:]}")


async def _publish(kafka: KafkaSettings, count: int) -> None:
    assert kafka.bootstrap_servers
    producer = new_producer(kafka.bootstrap_servers)
    await producer.start()
    try:
        for i in range(count):
            partition = i % kafka.partitions
            await producer.send_and_wait(
                kafka.changes_topic, b"not an envelope", key=b"site", partition=partition
            )
    finally:
        await producer.stop()


async def test_healthz_fails_while_lagging_partitions_are_not_fetched_and_after_a_loop_stall(
    topics: KafkaSettings, app_id: str, data_root: Path, workers: list[WorkerProcess]
) -> None:
    port = free_port()
    pause, block = data_root / "pause", data_root / "block"
    worker = start_worker(
        topics,
        app_id=app_id,
        data_dir=data_root / "w1",
        database_url=None,
        command=HOOKED,
        env={
            "PULSE_WEB_PORT": str(port),
            "PULSE_FETCH_STALL_LIMIT_S": str(FETCH_STALL_LIMIT_S),
            "PULSE_LOOP_STALL_LIMIT_S": str(LOOP_STALL_LIMIT_S),
            "PULSE_TEST_PAUSE_FILE": str(pause),
            "PULSE_TEST_BLOCK_FILE": str(block),
        },
    )
    workers.append(worker)
    base = f"http://127.0.0.1:{port}"
    await _wait_status(worker, f"{base}/readyz", 200, within_s=120, stage="start")

    # Consuming: records arrive and are read; lag comes and goes, liveness holds.
    await _publish(topics, 8)
    await asyncio.sleep(FETCH_STALL_LIMIT_S + 2)
    assert await _get(f"{base}/healthz") == (200, '{"status":"ok"}')

    # Fetching stopped while records wait: /healthz fails once the limit has passed.
    pause.touch()
    await asyncio.sleep(1)
    stopped_at = time.monotonic()
    await _publish(topics, 8)
    _, body = await _wait_status(worker, f"{base}/healthz", 503, 30, stage="fetch stopped")
    assert time.monotonic() - stopped_at >= FETCH_STALL_LIMIT_S
    assert "PULSE_FETCH_STALL_LIMIT_S" in body

    # Fetching again: the records are read and /healthz recovers.
    pause.unlink()
    await _wait_status(worker, f"{base}/healthz", 200, 30, stage="fetching again")

    # A loop blocked past its limit: no answer meanwhile, then 503 for good.
    block.write_text(str(LOOP_STALL_LIMIT_S * 2))
    _, body = await _wait_status(worker, f"{base}/healthz", 503, 30, stage="loop blocked")
    assert "PULSE_LOOP_STALL_LIMIT_S" in body
    await asyncio.sleep(LOOP_STALL_LIMIT_S)
    assert (await _get(f"{base}/healthz") or (0,))[0] == 503
    worker.stop()
