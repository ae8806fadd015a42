"""The broker stops for a while and starts again with its data under ``pulse gateway`` and an
open SSE stream: the gateway stays up, says so on ``/readyz``, counts the reconnect, and the
client gets every update produced after the restart, in order, none twice.

The broker is the test's own, so the session's shared broker never stops.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import aiohttp
import pytest

from tests.integration.gateway.conftest import kpi_update, new_site, send
from tests.integration.gateway.pipeline import start_gateway
from tests.integration.gateway.sse_client import Event, events, open_stream
from tests.integration.probing import metric, readyz, wait_until
from tests.unit.gateway.tokens import user_token
from workers.kafka.clients import new_producer
from workers.services.apache_kafka import ApacheKafka
from workers.services.ports import free_port
from workers.settings import KafkaSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

DOWN_S = 12.0


@pytest.fixture
def bootstrap_servers(own_broker: ApacheKafka) -> str:
    """The topics, producer and gateway of this module use the broker that the test stops."""
    return own_broker.bootstrap_servers


async def produce(topics: KafkaSettings, updates: list[object]) -> None:
    assert topics.bootstrap_servers
    producer = new_producer(topics.bootstrap_servers)
    await producer.start()
    try:
        await send(producer, topics.updates_topic, updates)
    finally:
        await producer.stop()


async def test_a_broker_restart_leaves_the_gateway_serving_with_no_gap_and_no_repeat(
    own_broker: ApacheKafka, topics: KafkaSettings, fresh_db: str, tmp_path: Path
) -> None:
    user = str(uuid.uuid4())
    site = new_site(fresh_db, [user])
    await produce(topics, [kpi_update(site, seq, events=seq) for seq in range(1, 6)])
    port = free_port()
    gateway = start_gateway(
        topics,
        fresh_db,
        tmp_path,
        port,
        PULSE_RECONNECT_INITIAL_S="0.2",
        PULSE_RECONNECT_MAX_S="2",
    )
    kafka = {"component": "gateway", "dependency": "kafka"}

    async def until(condition: object, what: str, timeout_s: float = 90) -> None:
        await wait_until(condition, what, gateway.process, gateway.log, timeout_s)  # type: ignore[arg-type]

    try:
        async with (
            aiohttp.ClientSession() as http,
            open_stream(http, f"http://127.0.0.1:{port}", site, user_token(user)) as response,
        ):
            stream = events(response)
            snapshot = await anext(stream)
            assert (snapshot.event, snapshot.id) == ("snapshot", "5")

            await asyncio.to_thread(own_broker.shutdown)
            down_at = time.monotonic()
            await until(
                lambda: readyz(port)[1].get("reconnecting_to") == ["kafka"],
                "/readyz to name kafka",
                timeout_s=DOWN_S,
            )
            assert readyz(port)[0] == 503
            assert metric(port, "pulse_dependency_up", **kafka) == 0
            await asyncio.sleep(max(0.0, DOWN_S - (time.monotonic() - down_at)))
            assert gateway.process.poll() is None, gateway.log()

            await asyncio.to_thread(own_broker.launch)
            await until(lambda: readyz(port)[0] == 200, "the gateway to be ready again")
            assert metric(port, "pulse_reconnects_total", **kafka) == 1

            await produce(topics, [kpi_update(site, seq, events=seq) for seq in range(6, 16)])
            got: list[Event] = []
            async with asyncio.timeout(60):
                while len(got) < 10:
                    got.append(await anext(stream))
        assert [(e.event, e.id) for e in got] == [("kpi_updated", str(s)) for s in range(6, 16)]
        assert gateway.process.poll() is None, gateway.log()
        assert metric(port, "pulse_reconnects_total", **kafka) == 1
        lines = gateway.log()
        assert lines.count('"kafka lost; reconnecting"') == 1
        assert lines.count('"kafka reconnected"') == 1
    finally:
        gateway.stop()
