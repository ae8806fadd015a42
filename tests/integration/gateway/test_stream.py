"""The gateway's SSE streams on real Kafka and Postgres: snapshot, live, resume, reset, slow
clients, and two replicas that agree without coordinating."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.gateway.conftest import (
    StartGateway,
    big_chart,
    intent_update,
    kpi_update,
    new_site,
    send,
)
from tests.integration.gateway.sse_client import Event, collect, events, open_stream
from tests.unit.gateway.tokens import user_token
from workers.settings import KafkaSettings

pytestmark = pytest.mark.integration


async def wait_ready(http: aiohttp.ClientSession, base: str) -> None:
    for _ in range(300):
        async with http.get(f"{base}/readyz") as response:
            if response.status == 200:
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the gateway never became ready")


def seqs(got: list[Event]) -> list[int]:
    return [int(e.id) for e in got if e.id is not None and e.event not in ("snapshot",)]


async def test_snapshot_then_live_then_resume_with_no_gap_and_no_repeat(
    start_gateway: StartGateway,
    producer: AIOKafkaProducer,
    topics: KafkaSettings,
    fresh_db: str,
) -> None:
    user = str(uuid.uuid4())
    site = new_site(fresh_db, [user])
    other = new_site(fresh_db, [user])
    await send(
        producer,
        topics.updates_topic,
        [intent_update(site, 1), kpi_update(site, 2, events=7), kpi_update(other, 3, events=99)],
    )
    gateway = await start_gateway()
    token = user_token(user)
    async with aiohttp.ClientSession() as http:
        await wait_ready(http, gateway.base)
        async with open_stream(http, gateway.base, site, token) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/event-stream"
            stream = events(response)
            snapshot = await anext(stream)
            assert (snapshot.event, snapshot.id) == ("snapshot", "2")
            body = snapshot.json()
            assert body["kpi"]["kpis"]["events"] == 7
            assert len(body["intents"]) == 1
            await send(
                producer,
                topics.updates_topic,
                [kpi_update(site, 10 + i, events=10 + i) for i in range(5)]
                + [kpi_update(other, 50, events=1)],
            )
            live = [await anext(stream) for _ in range(5)]
        assert [(e.event, e.id) for e in live] == [("kpi_updated", str(10 + i)) for i in range(5)]
        assert all(e.json()["site_id"] == site for e in live)

        # A client that saw up to 12 resumes: 13 and 14 (sent while it was live elsewhere) and 20.
        await send(producer, topics.updates_topic, [kpi_update(site, 20, events=20)])
        async with open_stream(http, gateway.base, site, token, last_event_id="12") as response:
            stream = events(response)
            replayed = [await anext(stream) for _ in range(3)]
            assert seqs(replayed) == [13, 14, 20]
            await send(producer, topics.updates_topic, [kpi_update(site, 21, events=21)])
            assert (await anext(stream)).id == "21"

        # ?after= does the same for clients that cannot set the header.
        async with http.get(
            f"{gateway.base}/sites/{site}/updates",
            params={"after": "20", "access_token": token},
        ) as response:
            assert (await anext(events(response))).id == "21"


async def test_a_position_no_longer_held_gets_reset_and_a_snapshot(
    start_gateway: StartGateway,
    producer: AIOKafkaProducer,
    topics: KafkaSettings,
    fresh_db: str,
) -> None:
    user = str(uuid.uuid4())
    site = new_site(fresh_db, [user])
    await send(producer, topics.updates_topic, [kpi_update(site, s, events=s) for s in range(1, 9)])
    gateway = await start_gateway(PULSE_GATEWAY_REPLAY_PER_SITE=3)
    async with aiohttp.ClientSession() as http:
        await wait_ready(http, gateway.base)
        async with open_stream(
            http, gateway.base, site, user_token(user), last_event_id="2"
        ) as response:
            got = await collect(response, until=lambda e: len(e) == 2)
    assert [e.event for e in got] == ["reset", "snapshot"]
    assert got[1].id == "8"
    assert got[1].json()["kpi"]["kpis"]["events"] == 8
    async with (
        aiohttp.ClientSession() as http,
        open_stream(http, gateway.base, site, user_token(user), last_event_id="5") as response,
    ):
        held = await collect(response, until=lambda e: len(e) == 3)
    assert seqs(held) == [6, 7, 8]


async def test_a_slow_client_is_cut_off_and_resumes_while_a_fast_one_gets_everything(
    start_gateway: StartGateway,
    producer: AIOKafkaProducer,
    topics: KafkaSettings,
    fresh_db: str,
) -> None:
    user = str(uuid.uuid4())
    site = new_site(fresh_db, [user])
    gateway = await start_gateway(
        PULSE_GATEWAY_CLIENT_BUFFER_BYTES=1_000_000,
        PULSE_GATEWAY_WRITE_TIMEOUT_S=2,
        PULSE_GATEWAY_REPLAY_PER_SITE=1000,
    )
    token = user_token(user)
    total = 800  # about 24 MB: more than the socket buffers hold
    async with aiohttp.ClientSession() as fast_http, aiohttp.ClientSession() as slow_http:
        await wait_ready(fast_http, gateway.base)
        async with (
            open_stream(fast_http, gateway.base, site, token) as fast,
            open_stream(slow_http, gateway.base, site, token) as slow,
        ):
            reading = asyncio.create_task(
                collect(fast, until=lambda e: len(e) == total + 1, timeout_s=120)
            )
            await send(
                producer, topics.updates_topic, [big_chart(site, s) for s in range(1, total + 1)]
            )
            got = await reading
            assert got[0].event == "snapshot"
            assert seqs(got) == list(range(1, total + 1))
            # Only now does the slow one read: it was cut off, with a reason or by the socket.
            slow_got = await collect(slow, until=lambda e: False, timeout_s=60)
        slow_seqs = seqs(slow_got)
        assert len(slow_seqs) < total
        assert slow_seqs == list(range(1, len(slow_seqs) + 1))
        async with fast_http.get(f"{gateway.base}/metrics") as metrics:
            text = await metrics.text()
        assert 'pulse_gateway_streams_closed_total{reason="slow_client"}' in text
        last = str(slow_seqs[-1]) if slow_seqs else "0"
        async with open_stream(slow_http, gateway.base, site, token, last_event_id=last) as again:
            rest = await collect(again, until=lambda e: len(e) == total - len(slow_seqs))
        assert seqs(rest) == list(range(len(slow_seqs) + 1, total + 1))


async def test_two_replicas_serve_the_same_stream_without_coordination(
    start_gateway: StartGateway,
    producer: AIOKafkaProducer,
    topics: KafkaSettings,
    fresh_db: str,
) -> None:
    user = str(uuid.uuid4())
    site = new_site(fresh_db, [user])
    await send(producer, topics.updates_topic, [kpi_update(site, s, events=s) for s in (1, 2, 3)])
    first = await start_gateway()
    second = await start_gateway()
    token = user_token(user)
    async with aiohttp.ClientSession() as http:
        await wait_ready(http, first.base)
        await wait_ready(http, second.base)
        async with open_stream(http, first.base, site, token, last_event_id="0") as response:
            on_first = await collect(response, until=lambda e: len(e) == 3)
        await send(producer, topics.updates_topic, [kpi_update(site, 4, events=4)])
        # The load balancer sends the reconnect to the other replica.
        async with open_stream(http, second.base, site, token, last_event_id="3") as response:
            on_second = await collect(response, until=lambda e: len(e) == 1)
    assert seqs(on_first) + seqs(on_second) == [1, 2, 3, 4]
