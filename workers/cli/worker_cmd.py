"""``pulse worker``: run the stream worker (a Faust worker with our app) until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any

import structlog

from workers.cli.arguments import add_connection_arguments
from workers.cli.exit_status import ExitStatus
from workers.kafka.access import KafkaAccessError
from workers.kafka.topics import ensure_project_topics
from workers.logs import configure_logging, stdlib_logging_config
from workers.settings import (
    DatabaseSettings,
    KafkaSettings,
    LivenessSettings,
    LogSettings,
    require,
)

if TYPE_CHECKING:
    from workers.stream.processing import Processor

log = structlog.get_logger("pulse.cli.worker")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run the stream worker: supabase_changes into per-site dashboard_updates",
        description="Run the Faust stream worker. Workers with the same app id form one consumer "
        "group. Settings come from the environment (see the README); options override them.",
    )
    parser.add_argument(
        "--app-id",
        metavar="ID",
        help="consumer group and changelog prefix (default: PULSE_APP_ID or realtime-pulse)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="this worker's RocksDB state (default: PULSE_DATA_DIR or pulse-data)",
    )
    parser.add_argument(
        "--web-port",
        type=int,
        metavar="PORT",
        help="port of Faust's web server, 0 for none (default: PULSE_WEB_PORT or 6066)",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="the log level of Faust (default: PULSE_WORKER_LOG_LEVEL or info)",
    )
    add_connection_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    for option, variable in (
        ("app_id", "PULSE_APP_ID"),
        ("data_dir", "PULSE_DATA_DIR"),
        ("web_port", "PULSE_WEB_PORT"),
        ("log_level", "PULSE_WORKER_LOG_LEVEL"),
    ):
        value = getattr(args, option)
        if value is not None:
            os.environ[variable] = str(value)
    return serve()


def serve(processor: Processor | None = None) -> int:
    """Run the worker configured by the environment until it is stopped.

    ``processor`` replaces the worker's logic; only the bench's floor measurement passes one.
    """
    import faust

    from workers.collector import quiet_collector
    from workers.observability.metrics_server import serve_worker_metrics
    from workers.observability.readiness import Readiness
    from workers.resilience.link import DependencyLink
    from workers.settings import ReconnectSettings
    from workers.stream.allocator import fix_mmap_threshold
    from workers.stream.app import create_app
    from workers.stream.session_lookup import PostgresSessionLookup
    from workers.stream.settings import StreamSettings

    configure_logging()
    fix_mmap_threshold()
    settings = StreamSettings()
    liveness = LivenessSettings()
    kafka = KafkaSettings()
    bootstrap = require(
        kafka.bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS", "to read supabase_changes"
    )
    try:
        asyncio.run(ensure_project_topics(bootstrap, kafka))
    except KafkaAccessError as exc:
        log.error("worker cannot start", error=str(exc))
        return ExitStatus.FAILED
    asyncio.set_event_loop(asyncio.new_event_loop())
    serve_worker_metrics(settings)
    readiness = Readiness()
    reconnect = ReconnectSettings().policy()
    lookup = PostgresSessionLookup(
        DatabaseSettings().database_url,
        link=DependencyLink("worker", "postgres", readiness, log),
        policy=reconnect,
    )
    app, _runner = create_app(
        settings,
        kafka,
        lookup,
        processor,
        readiness,
        loop_stall_limit_s=liveness.loop_stall_limit_s,
        reconnect=reconnect,
    )
    log.info("stream worker starting", app_id=settings.app_id, data_dir=str(settings.data_dir))
    worker = faust.Worker(
        app,
        loglevel=settings.log_level,
        quiet=True,
        logging_config=stdlib_logging_config(
            LogSettings(), getattr(logging, settings.log_level.upper())
        ),
    )
    # At a log level of warning or above Faust keeps its terminal spinner, which turns on every
    # log record: it sets the root logger to DEBUG, so every debug call in aiokafka, Faust and
    # mode built a record only for the handlers to drop it.
    worker.spinner = None
    quiet_collector()
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        # mode exits 1 when the worker failed, and 1 is pulse's "KPIs differ".
        return ExitStatus.OK if exc.code in (0, None) else ExitStatus.FAILED
    return ExitStatus.OK
