"""``pulse ingest --source wal|realtime``: run the ingest worker until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import structlog

from workers.ingest.replication import ReplicationSetupError
from workers.kafka.topics import BrokerUnreachable
from workers.logs import configure_logging
from workers.settings import DatabaseSettings, KafkaSettings, require

log = structlog.get_logger("pulse.cli.ingest")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="Move Postgres row changes into the supabase_changes topic.",
        description="Run the ingest worker: row changes into supabase_changes, keyed by site_id. "
        "Stops cleanly (draining what it read) on SIGTERM or Ctrl-C.",
    )
    parser.add_argument(
        "--source",
        choices=["wal"],
        default="wal",
        help="wal: logical replication (pgoutput) from DATABASE_URL.",
    )
    parser.set_defaults(handler=run)


async def _run_wal() -> None:
    from workers.cli.signals import stop_on_signals
    from workers.ingest.wal_options import WalIngestOptions
    from workers.ingest.wal_runner import run_wal_ingest

    dsn = require(DatabaseSettings().database_url, "DATABASE_URL", "to read the replication slot")
    kafka = KafkaSettings()
    require(kafka.bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS", "to publish changes")
    from workers.observability.health_server import HealthServer
    from workers.observability.readiness import Readiness

    options = WalIngestOptions()
    stop = asyncio.Event()
    stop_on_signals(stop)
    readiness = Readiness()
    if options.metrics_port == 0:
        await run_wal_ingest(dsn, kafka, options, stop, readiness=readiness)
        return
    async with HealthServer(readiness, host=options.metrics_host, port=options.metrics_port):
        log.info("serving /metrics, /healthz, /readyz", port=options.metrics_port)
        await run_wal_ingest(dsn, kafka, options, stop, readiness=readiness)


def run(args: argparse.Namespace) -> int:
    configure_logging()
    try:
        asyncio.run(_run_wal())
    except (ReplicationSetupError, BrokerUnreachable) as exc:
        log.error("ingest cannot start", error=str(exc))
        return 2
    return 0
