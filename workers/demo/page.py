"""The demo's live dashboard page: ``pulse gateway`` as a child, and a URL that opens it.

The gateway checks tokens against a JWT secret made for this run only (the demo secret, not a
Supabase project's), and a demo user is made a member of the sites the traffic creates, so the
printed URL's token works for exactly those sites and for as long as the run lasts.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

import jwt
import psycopg

from workers.demo.children import Child
from workers.demo.failures import DemoFailure
from workers.demo.launch import (
    CHILD_START_TIMEOUT_S,
    kafka_environment,
    python_module,
    wait_ready,
)
from workers.demo.progress import step
from workers.demo.stack import DemoStack, child_environment
from workers.services.ports import free_port
from workers.settings import KafkaSettings

AUDIENCE = "authenticated"
# Long enough for any demo run; the secret dies with the run anyway.
TOKEN_TTL_S = 7 * 24 * 3600
SITES_WAIT_S = 60.0


@dataclass(frozen=True)
class DemoGateway:
    child: Child
    port: int
    secret: str = field(repr=False)


def demo_secret() -> str:
    return "pulse-demo-secret-" + secrets.token_urlsafe(32)


def demo_token(secret: str, user_id: str, now: float) -> str:
    claims = {
        "sub": user_id,
        "aud": AUDIENCE,
        "role": "authenticated",
        "exp": int(now + TOKEN_TTL_S),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def page_url(port: int, site_id: str, token: str) -> str:
    return f"http://127.0.0.1:{port}/?" + urlencode({"site": site_id, "token": token})


async def start_gateway(stack: DemoStack, dsn: str, kafka: KafkaSettings) -> DemoGateway:
    port, secret = free_port(), demo_secret()
    env = {
        **kafka_environment(kafka),
        "DATABASE_URL": dsn,
        "SUPABASE_JWT_SECRET": secret,
        "PULSE_GATEWAY_HOST": "127.0.0.1",
        "PULSE_GATEWAY_PORT": str(port),
        "PULSE_LOG_FORMAT": "json",
    }
    with step(stack.console, "starting the gateway (pulse gateway)") as done:
        child = stack.spawn(
            "gateway", python_module("workers.cli.main", "gateway"), child_environment(env)
        )
        await wait_ready(child, f"http://127.0.0.1:{port}/readyz", CHILD_START_TIMEOUT_S)
        done.result = f"http://127.0.0.1:{port}, pid {child.pid}"
    return DemoGateway(child, port, secret)


def grant(dsn: str, user_id: str, site_ids: list[str]) -> int:
    """Makes ``user_id`` a member of those of ``site_ids`` that exist; returns how many do."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO site_members (user_id, site_id, role) "
            "SELECT %s, id, 'viewer' FROM sites WHERE id = ANY(%s::uuid[]) "
            "ON CONFLICT DO NOTHING",
            (user_id, site_ids),
        )
        granted = conn.execute(
            "SELECT count(*) FROM site_members WHERE user_id = %s", (user_id,)
        ).fetchone()
    return int(granted[0]) if granted else 0


def ungrant(dsn: str, user_id: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM site_members WHERE user_id = %s", (user_id,))


async def announce_page(
    stack: DemoStack, gateway: DemoGateway, dsn: str, site_ids: list[str]
) -> None:
    """Once the traffic has created its sites: the demo user is a member of each, and the URL
    of the first site's page (with the user's token) is printed."""
    user_id = str(uuid.uuid4())
    if stack.external_database:
        stack.on_close("the demo user's memberships", lambda: ungrant(dsn, user_id))
    deadline = time.monotonic() + SITES_WAIT_S
    while await asyncio.to_thread(grant, dsn, user_id, site_ids) < len(site_ids):
        if time.monotonic() > deadline:
            raise DemoFailure(f"the traffic did not create its {len(site_ids)} sites in time")
        await asyncio.sleep(0.5)
    url = page_url(gateway.port, site_ids[0], demo_token(gateway.secret, user_id, time.time()))
    stack.console.print(
        f"[bold]live dashboard page[/bold] (site 0 of {len(site_ids)}; its token is signed with "
        f"this run's demo JWT secret, not a Supabase one):\n{url}",
        highlight=False,
        soft_wrap=True,
    )
