"""A real Faust app on the throwaway broker: /readyz turns 200 once recovery and assignment are done."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import aiohttp
import faust
import pytest

from workers.kafka.topics import ensure_topics
from workers.observability.faust_readiness import FaustState, conditions_of, track_faust_readiness
from workers.observability.faust_views import install_web_views
from workers.observability.readiness import RECOVERED, SOURCE_LIVE, Readiness
from workers.services.ports import free_port

pytestmark = pytest.mark.integration


def test_conditions_of() -> None:
    settled = FaustState(True, False, False, frozenset({"changes", "app-t-changelog"}))
    assert conditions_of(settled, ["changes"]) == {RECOVERED: True, SOURCE_LIVE: True}
    rebalancing = FaustState(True, True, True, frozenset({"changes"}))
    assert conditions_of(rebalancing, ["changes"]) == {RECOVERED: False, SOURCE_LIVE: False}
    first_recovery = FaustState(False, True, False, frozenset())
    assert conditions_of(first_recovery, ["changes"]) == {RECOVERED: False, SOURCE_LIVE: False}
    only_changelogs = FaustState(True, False, False, frozenset({"app-t-changelog"}))
    assert conditions_of(only_changelogs, ["changes"])[SOURCE_LIVE] is False


async def test_readyz_follows_a_running_faust_app(bootstrap_servers: str, tmp_path: Path) -> None:
    source = f"readiness_src_{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap_servers, [source], partitions=2)
    port = free_port()
    app = faust.App(
        f"readiness-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{bootstrap_servers}",
        store="memory://",
        datadir=str(tmp_path),
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        web_port=port,
        topic_partitions=2,
        broker_session_timeout=10,
        broker_heartbeat_interval=1,
    )
    counts = app.Table("counts", default=int, partitions=2)
    topic = app.topic(source, value_serializer="raw", partitions=2)

    @app.agent(topic)
    async def count(stream: faust.StreamT[bytes]) -> None:
        async for value in stream:
            counts[value.decode()] += 1

    readiness = Readiness()
    install_web_views(app, readiness)
    track_faust_readiness(app, readiness, [source], interval_s=0.2)

    starting = asyncio.create_task(app.start())
    try:
        async with aiohttp.ClientSession() as session:
            seen: list[int] = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                        seen.append(response.status)
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
            assert seen and seen[-1] == 200, f"never ready; statuses seen: {sorted(set(seen))}"
            assert seen[0] == 503, "ready before the app had recovered and joined"
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
        assert readiness.conditions() == {RECOVERED: True, SOURCE_LIVE: True}
    finally:
        await app.stop()
        starting.cancel()
