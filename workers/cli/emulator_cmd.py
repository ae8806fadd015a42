"""``pulse emulator``: a local stand-in for Supabase Realtime and PostgREST, fed by a real Postgres."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import structlog

from workers.cli.arguments import POSTGRES, add_connection_argument
from workers.logs import configure_logging
from workers.settings import DatabaseSettings, require

log = structlog.get_logger("pulse.cli.emulator")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "emulator",
        help="serve a Supabase Realtime + PostgREST emulator on loopback (tests, local runs)",
        description="Realtime postgres_changes (Phoenix v1/v2) read from DATABASE_URL through a "
        "temporary logical slot, the PostgREST select subset, and a fault API under /_emulator/. "
        "Point SUPABASE_URL at the printed URL. The database needs wal_level=logical and the "
        "publication supabase_realtime (the project's schema creates it). With --jwt-secret, keys "
        "and tokens are verified (role and exp required) and a service_role key is printed. "
        "--realistic-delays waits as the hosted service does: 2 s before refusing a connection, "
        "5 s before a join error, 1 s between a join reply and 'Subscribed to PostgreSQL'.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", metavar="HOST", help="listen address (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=54321, metavar="PORT", help="listen port (default: %(default)s)"
    )
    parser.add_argument(
        "--jwt-secret",
        default=None,
        metavar="SECRET",
        help="the HS256 secret that keys and tokens must be signed with (default: none, any key)",
    )
    parser.add_argument(
        "--realistic-delays",
        action="store_true",
        help="answer with the hosted service's delays",
    )
    parser.add_argument(
        "--poll-interval-ms",
        type=float,
        default=100.0,
        metavar="MS",
        help="slot poll interval when idle (default: %(default)g)",
    )
    add_connection_argument(parser, POSTGRES)
    parser.set_defaults(handler=run)


async def _serve(args: argparse.Namespace, dsn: str) -> None:
    from workers.cli.signals import stop_on_signals
    from workers.emulator.config import EmulatorConfig
    from workers.emulator.server import Emulator
    from workers.emulator.tokens import mint_token

    config = EmulatorConfig(
        dsn=dsn,
        host=args.host,
        port=args.port,
        jwt_secret=args.jwt_secret,
        poll_interval_ms=args.poll_interval_ms,
    )
    if args.realistic_delays:
        config.connect_error_delay_ms = 2000
        config.channel_error_backoff_ms = 5000
        config.subscribe_delay_ms = 1000
    emulator = Emulator(config)
    await emulator.start()
    key = mint_token(args.jwt_secret) if args.jwt_secret else "any-key"
    print(f"SUPABASE_URL={emulator.url}", flush=True)
    print(f"SUPABASE_SERVICE_KEY={key}", flush=True)
    stop = asyncio.Event()
    stop_on_signals(stop)
    try:
        await stop.wait()
    finally:
        await emulator.stop()


def run(args: argparse.Namespace) -> int:
    configure_logging()
    dsn = require(DatabaseSettings().database_url, "DATABASE_URL", "to read changes and rows from")
    try:
        asyncio.run(_serve(args, dsn))
    except OSError as exc:
        log.error("emulator cannot start", error=str(exc))
        return 2
    return 0
