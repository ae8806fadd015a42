"""``pulse gateway``: per-site live updates for browsers (SSE), the dashboard page, probes."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import structlog

from workers.cli.arguments import add_connection_arguments
from workers.cli.signals import stop_on_signals
from workers.gateway.feed import TopicNotFound
from workers.gateway.server import run_gateway
from workers.gateway.settings import GatewaySettings
from workers.logs import configure_logging
from workers.settings import DatabaseSettings, KafkaSettings, LivenessSettings, require

log = structlog.get_logger("pulse.cli.gateway")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gateway",
        help="serve each site's dashboard_updates to browsers as Server-Sent Events, and the page",
        description="GET /sites/{site_id}/updates streams one site's updates (SSE, resumable by "
        "Last-Event-ID) to members of the site (a Supabase JWT, checked against site_members); "
        "GET / serves the live dashboard page. Settings come from the environment (see the "
        "README); options override them.",
    )
    parser.add_argument(
        "--host",
        metavar="HOST",
        help="address to listen on (default: PULSE_GATEWAY_HOST or 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        metavar="PORT",
        help="port to listen on (default: PULSE_GATEWAY_PORT or 8080)",
    )
    add_connection_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    configure_logging()
    overrides: dict[str, Any] = {}
    if args.host is not None:
        overrides["PULSE_GATEWAY_HOST"] = args.host
    if args.port is not None:
        overrides["PULSE_GATEWAY_PORT"] = args.port
    settings = GatewaySettings(**overrides)
    kafka = KafkaSettings()
    bootstrap = require(kafka.bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS", "to read updates")
    dsn = require(DatabaseSettings().database_url, "DATABASE_URL", "to read site_members")
    loop_stall_limit_s = LivenessSettings().loop_stall_limit_s

    async def main() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        await run_gateway(
            settings,
            bootstrap=bootstrap,
            topic=kafka.updates_topic,
            dsn=dsn,
            stop=stop,
            loop_stall_limit_s=loop_stall_limit_s,
        )

    try:
        asyncio.run(main())
    except (TopicNotFound, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
