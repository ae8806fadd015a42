"""``pulse ingest --source wal|realtime``: run the ingest worker until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import structlog

from workers.cli.arguments import add_connection_arguments
from workers.cli.exit_status import ExitStatus
from workers.collector import quiet_collector
from workers.ingest.wal.replication import ReplicationSetupError, SlotGone
from workers.kafka.access import KafkaAccessError
from workers.logs import configure_logging
from workers.settings import DatabaseSettings, KafkaSettings, LivenessSettings, require

log = structlog.get_logger("pulse.cli.ingest")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="move Postgres row changes into the supabase_changes topic",
        description="Run the ingest worker: row changes into supabase_changes, keyed by site_id. "
        "Stops cleanly (draining what it read) on SIGTERM or Ctrl-C. The realtime source "
        "subscribes to Supabase Realtime postgres_changes with SUPABASE_SERVICE_KEY and catches "
        "up through PostgREST after every reconnect; SIGHUP forces a reconnect.",
    )
    parser.add_argument(
        "--source",
        choices=["wal", "realtime"],
        default="wal",
        help="wal: a replication slot of DATABASE_URL; realtime: SUPABASE_URL (default: wal)",
    )
    add_connection_arguments(parser)
    parser.set_defaults(handler=run)


async def _run_wal() -> None:
    from workers.cli.signals import stop_on_signals
    from workers.ingest.settings import WalIngestSettings
    from workers.ingest.wal.runner import run_wal_ingest

    dsn = require(DatabaseSettings().database_url, "DATABASE_URL", "to read the replication slot")
    kafka = KafkaSettings()
    require(kafka.bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS", "to publish changes")
    from workers.ingest.settings import IngestEndpointSettings
    from workers.observability.health_server import HealthServer
    from workers.observability.loop_watchdog import LoopWatchdog
    from workers.observability.readiness import Readiness

    options = WalIngestSettings()
    http = IngestEndpointSettings()
    stop = asyncio.Event()
    stop_on_signals(stop)
    readiness = Readiness()
    liveness = LivenessSettings()
    quiet_collector()
    if http.metrics_port == 0:
        await run_wal_ingest(dsn, kafka, options, stop, readiness=readiness)
        return
    async with (
        HealthServer(readiness, host=http.metrics_host, port=http.metrics_port),
        LoopWatchdog(readiness, limit_s=liveness.loop_stall_limit_s),
    ):
        log.info("serving /metrics, /healthz, /readyz", port=http.metrics_port)
        await run_wal_ingest(dsn, kafka, options, stop, readiness=readiness)


async def _run_realtime() -> None:
    from workers.cli.signals import stop_on_signals
    from workers.ingest.realtime.runner import run_realtime_ingest
    from workers.ingest.settings import (
        IngestEndpointSettings,
        RealtimeIngestSettings,
        SupabaseSettings,
    )
    from workers.observability.health_server import HealthServer
    from workers.observability.loop_watchdog import LoopWatchdog
    from workers.observability.readiness import Readiness

    supabase = SupabaseSettings()
    url = require(supabase.supabase_url, "SUPABASE_URL", "to subscribe to Supabase Realtime")
    key = require(supabase.supabase_service_key, "SUPABASE_SERVICE_KEY", "to authenticate")
    kafka = KafkaSettings()
    require(kafka.bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS", "to publish changes")
    options = RealtimeIngestSettings()
    http = IngestEndpointSettings()
    stop = asyncio.Event()
    stop_on_signals(stop)
    readiness = Readiness()
    liveness = LivenessSettings()
    quiet_collector()

    async def ingest() -> None:
        await run_realtime_ingest(
            url,
            key,
            kafka,
            options,
            stop,
            access_token_file=supabase.supabase_access_token_file,
            readiness=readiness,
        )

    if http.metrics_port == 0:
        await ingest()
        return
    async with (
        HealthServer(readiness, host=http.metrics_host, port=http.metrics_port),
        LoopWatchdog(readiness, limit_s=liveness.loop_stall_limit_s),
    ):
        log.info("serving /metrics, /healthz, /readyz", port=http.metrics_port)
        await ingest()


def run(args: argparse.Namespace) -> int:
    configure_logging()
    try:
        asyncio.run(_run_realtime() if args.source == "realtime" else _run_wal())
    except SlotGone as exc:
        log.error("replication slot gone", error=str(exc))
        return 2
    except (ReplicationSetupError, KafkaAccessError) as exc:
        log.error("ingest cannot start", error=str(exc))
        return ExitStatus.FAILED
    return ExitStatus.OK
