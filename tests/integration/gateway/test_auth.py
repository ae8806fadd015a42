"""Who gets a site's stream: tokens checked, memberships read from Postgres, and no update ever
delivered to a client of another site (forged, expired, other-site and revoked tokens)."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.gateway.conftest import StartGateway, kpi_update, new_site, revoke, send
from tests.integration.gateway.sse_client import Event, collect, open_stream
from tests.integration.gateway.test_stream import wait_ready
from tests.unit.gateway.tokens import user_token
from workers.settings import KafkaSettings

pytestmark = pytest.mark.integration

FORGED_SECRET = "an-attacker-guess-at-the-secret-32-bytes"


async def refused(
    http: aiohttp.ClientSession, base: str, site: str, token: str | None, **kwargs: object
) -> tuple[int, str, str]:
    async with open_stream(http, base, site, token, **kwargs) as response:  # type: ignore[arg-type]
        body = await response.text()
        return response.status, response.headers.get("X-Pulse-Reason", ""), body


async def test_refusals_are_401_or_403_with_one_line_reasons(
    start_gateway: StartGateway, fresh_db: str
) -> None:
    member, outsider = str(uuid.uuid4()), str(uuid.uuid4())
    site = new_site(fresh_db, [member])
    new_site(fresh_db, [outsider])
    gateway = await start_gateway()
    async with aiohttp.ClientSession() as http:
        await wait_ready(http, gateway.base)
        cases = {
            "missing": (None, 401),
            "signature": (user_token(member, secret=FORGED_SECRET), 401),
            "expired": (user_token(member, ttl_s=-1), 401),
            "audience": (user_token(member, audience="anon"), 401),
            "malformed": ("garbage", 401),
            "not_member": (user_token(outsider), 403),
        }
        for reason, (token, status) in cases.items():
            got_status, got_reason, body = await refused(http, gateway.base, site, token)
            assert (got_status, got_reason) == (status, reason), body
            assert body.endswith("\n") and body.count("\n") == 1 and len(body) > 5
        status, reason, _ = await refused(
            http, gateway.base, site, user_token(outsider), query_token=True
        )
        assert (status, reason) == (403, "not_member")
        status, reason, _ = await refused(http, gateway.base, "not-a-uuid", user_token(member))
        assert (status, reason) == (400, "bad_site")
        async with http.get(f"{gateway.base}/metrics") as response:
            metrics = await response.text()
        assert 'pulse_gateway_auth_failures_total{reason="not_member"}' in metrics


async def test_no_client_ever_receives_another_site_s_update(
    start_gateway: StartGateway,
    producer: AIOKafkaProducer,
    topics: KafkaSettings,
    fresh_db: str,
) -> None:
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    site_a = new_site(fresh_db, [alice])
    site_b = new_site(fresh_db, [bob, alice])
    gateway = await start_gateway(PULSE_GATEWAY_MEMBERSHIP_TTL_S=0.5)
    rounds = 20
    async with aiohttp.ClientSession() as http:
        await wait_ready(http, gateway.base)
        async with (
            open_stream(http, gateway.base, site_a, user_token(alice)) as on_a,
            open_stream(http, gateway.base, site_b, user_token(alice)) as alice_on_b,
            open_stream(http, gateway.base, site_b, user_token(bob)) as bob_on_b,
        ):
            reading_a = asyncio.create_task(
                collect(on_a, until=lambda e: len(e) == rounds + 1, timeout_s=60)
            )
            reading_alice_b = asyncio.create_task(
                collect(alice_on_b, until=lambda e: e[-1].event == "access_revoked", timeout_s=60)
            )
            reading_b = asyncio.create_task(
                collect(bob_on_b, until=lambda e: len(e) == 2 * rounds + 1, timeout_s=60)
            )
            for i in range(rounds):
                await send(
                    producer,
                    topics.updates_topic,
                    [kpi_update(site_a, i + 1, events=i), kpi_update(site_b, i + 1, events=i)],
                )
                # Every kind of refused token, tried on site A while its updates flow.
                for token in (
                    user_token(bob),
                    user_token(alice, secret=FORGED_SECRET),
                    user_token(alice, ttl_s=-1),
                ):
                    status, _, body = await refused(http, gateway.base, site_a, token)
                    assert status in (401, 403) and "data:" not in body
                if i == rounds // 2:
                    revoke(fresh_db, alice, site_b)
                    await reading_alice_b
            revoked_at = len(reading_alice_b.result())
            for i in range(rounds, 2 * rounds):
                await send(producer, topics.updates_topic, [kpi_update(site_b, i + 1, events=i)])
            got_a, got_b = await reading_a, await reading_b
    alice_b = reading_alice_b.result()

    def sites(got: list[Event]) -> set[str]:
        return {e.json()["site_id"] for e in got if e.event not in ("access_revoked",)}

    assert sites(got_a) == {site_a}
    assert sites(got_b) == {site_b}
    assert [int(e.id) for e in got_b[1:] if e.id] == list(range(1, 2 * rounds + 1))
    assert alice_b[-1].event == "access_revoked"
    # Nothing of site B reached Alice after her membership went, and she cannot come back.
    assert len(alice_b) == revoked_at
    assert max(int(e.id) for e in alice_b if e.id) <= rounds
    async with aiohttp.ClientSession() as http:
        status, reason, _ = await refused(http, gateway.base, site_b, user_token(alice))
    assert (status, reason) == (403, "not_member")


async def test_a_token_that_expires_mid_stream_ends_it_with_auth_expired(
    start_gateway: StartGateway, fresh_db: str
) -> None:
    user = str(uuid.uuid4())
    site = new_site(fresh_db, [user])
    gateway = await start_gateway()
    async with aiohttp.ClientSession() as http:
        await wait_ready(http, gateway.base)
        async with open_stream(http, gateway.base, site, user_token(user, ttl_s=2)) as response:
            got = await collect(response, until=lambda e: False, timeout_s=30)
    assert [e.event for e in got] == ["snapshot", "auth_expired"]
    assert "new one" in got[-1].json()["detail"]
