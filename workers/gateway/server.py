"""Running the gateway: the consumer, the chores and the HTTP server, until ``stop`` is set."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import structlog
from aiohttp import web

from workers.gateway.auth import TokenVerifier
from workers.gateway.feed import LOADED, run_feed
from workers.gateway.http_app import GatewayApp
from workers.gateway.hub import Hub
from workers.gateway.membership import MembershipCache, PostgresMembers
from workers.gateway.settings import GatewaySettings
from workers.gateway.watch import check_access, send_heartbeats
from workers.observability.loop_watchdog import LoopWatchdog
from workers.observability.readiness import Readiness
from workers.resilience.kafka_watch import watch_kafka
from workers.resilience.link import DependencyLink
from workers.settings import ReconnectSettings

log = structlog.get_logger("pulse.gateway")


@dataclass
class GatewayStarted:
    """Set once the port is bound (``port`` is then the real one, also when 0 was asked)."""

    bound: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0


async def run_gateway(
    settings: GatewaySettings,
    *,
    bootstrap: str,
    topic: str,
    dsn: str,
    stop: asyncio.Event,
    started: GatewayStarted | None = None,
    loop_stall_limit_s: float | None = None,
    reconnect: ReconnectSettings | None = None,
) -> None:
    """``loop_stall_limit_s``: fail ``/healthz`` after a longer event loop stall (None: never).

    The consumer rides out a broker outage by itself and reads on from its positions; the watch
    reports the outage (``/readyz``, the kafka link's log lines and metrics) meanwhile.
    """
    hub = Hub(
        replay_per_site=settings.replay_per_site,
        ledger_size=settings.ledger_size,
        client_buffer_bytes=settings.client_buffer_bytes,
    )
    readiness = Readiness((LOADED,))
    members = PostgresMembers(dsn)
    membership = MembershipCache(
        members, ttl_s=settings.membership_ttl_s, max_entries=settings.membership_cache_size
    )
    verifier = TokenVerifier(
        audience=settings.jwt_audience, secret=settings.jwt_secret, jwks_url=settings.jwks_url
    )
    app = GatewayApp(
        hub,
        verifier,
        membership,
        readiness,
        write_timeout_s=settings.write_timeout_s,
        allowed_origins=settings.origins(),
    ).build()
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=4096)
    await site.start()
    port = next(int(address[1]) for address in runner.addresses if isinstance(address, tuple))
    log.info("gateway listening", host=settings.host, port=port, topic=topic)
    if started is not None:
        started.port = port
        started.bound.set()
    watchdog = None
    if loop_stall_limit_s is not None:
        watchdog = LoopWatchdog(readiness, limit_s=loop_stall_limit_s)
        watchdog.start(asyncio.get_running_loop())
    tasks = [
        asyncio.create_task(run_feed(bootstrap, topic, hub, readiness, stop), name="feed"),
        asyncio.create_task(
            watch_kafka(
                bootstrap,
                DependencyLink("gateway", "kafka", readiness, log),
                (reconnect or ReconnectSettings()).policy(),
                stop,
            ),
            name="kafka-watch",
        ),
        asyncio.create_task(send_heartbeats(hub, settings.heartbeat_s, stop), name="heartbeats"),
        asyncio.create_task(
            check_access(hub, membership, settings.auth_sweep_s, stop), name="access"
        ),
    ]
    stopping = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopping and task.exception() is not None:
                readiness.fail(f"{task.get_name()} failed: {task.exception()}")
                raise task.exception()  # type: ignore[misc]
    finally:
        stop.set()
        for task in [*tasks, stopping]:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await runner.cleanup()
        await members.close()
        if watchdog is not None:
            watchdog.stop()
        log.info("gateway stopped")
