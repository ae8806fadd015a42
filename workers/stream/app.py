"""The Faust app of the stream worker: settings, the source topic, tables, agent and timers.

``create_app`` builds everything for one worker; several workers with the same ``PULSE_APP_ID``
form one consumer group and share the partitions.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import structlog

from workers.kafka import broker_quirks
from workers.kafka.security import client_security
from workers.observability.consumer_lag import install_lag_sampler
from workers.observability.faust_fetch_stall import install_fetch_stall_check
from workers.observability.faust_readiness import track_faust_readiness
from workers.observability.faust_views import install_web_views
from workers.observability.loop_watchdog import LoopWatchdog
from workers.observability.readiness import Readiness
from workers.resilience.backoff import BackoffPolicy
from workers.resilience.kafka_watch import watch_kafka
from workers.resilience.link import DependencyLink
from workers.settings import KafkaSettings
from workers.stream.agents import StreamRunner, register_agents
from workers.stream.broker_credentials import faust_credentials
from workers.stream.checkpoint import Checkpoint, ProducerOptions
from workers.stream.faust_adapter import PulseApp, TableManager
from workers.stream.processing import Processor, SessionLookup
from workers.stream.rocksdb_memory import STORE_URL, SharedMemory
from workers.stream.settings import StreamSettings
from workers.stream.tables import StateTables, define_tables

log = structlog.get_logger("pulse.stream")


def create_app(
    worker: StreamSettings,
    kafka: KafkaSettings,
    lookup: SessionLookup,
    processor: Processor | None = None,
    readiness: Readiness | None = None,
    loop_stall_limit_s: float | None = None,
    reconnect: BackoffPolicy | None = None,
) -> tuple[faust.App, StreamRunner]:
    """The app and its runner; ``processor`` replaces the worker's logic (the bench's floor).

    ``readiness`` is shared with whatever else reports on the worker's dependencies (the
    session lookup's link to Postgres). ``loop_stall_limit_s`` watches the app's event loop
    (``loop_watchdog``); None: not watched. ``reconnect`` paces the Kafka watch's attempts
    while the broker is away.
    """
    if not kafka.bootstrap_servers:
        raise ValueError("KAFKA_BOOTSTRAP_SERVERS is needed by the stream worker")
    brokers = ";".join(f"kafka://{server}" for server in kafka.bootstrap_servers.split(","))
    app = PulseApp(
        worker.app_id,
        broker=brokers,
        broker_credentials=faust_credentials(client_security()),
        store=STORE_URL,
        TableManager=TableManager,
        datadir=str(worker.data_dir),
        autodiscover=False,
        # Co-partitioning: every table has as many partitions as supabase_changes.
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication_factor,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=worker.session_timeout_s,
        broker_heartbeat_interval=max(0.5, worker.session_timeout_s / 10),
        broker_commit_interval=1.0,
        table_standby_replicas=worker.standby_replicas,
        # Faust's own exactly-once mode commits on a timer, for all partitions at once, and
        # writes the local stores before the transaction commits; ``checkpoint`` commits each
        # batch in a transaction of its own instead, so Faust itself commits nothing.
        processing_guarantee="at_least_once",
        producer_acks=-1,
        producer_request_timeout=worker.producer_request_timeout_s,
        producer_max_request_size=8_388_608,
        # Record batches are filled directly (``producing``): large ones mean few requests, and
        # they are complete when handed over, so lingering would only add latency.
        producer_max_batch_size=1_048_576,
        producer_linger=0.0,
        # Faust pauses fetching when an agent's buffer is full: a small buffer bounds the memory
        # held by fetched-but-unprocessed runs of envelopes (``faust_adapter.SourceRun``).
        stream_buffer_maxsize=worker.batch_max_runs,
        web_enabled=worker.web_port != 0,
        web_port=worker.web_port or 6066,
        web_bind=worker.web_bind,
    )
    app.fetch_max_wait_ms = worker.fetch_max_wait_ms
    app.source_topic = kafka.changes_topic
    app.bootstrap_servers = kafka.bootstrap_servers
    tables = define_tables(
        app,
        kafka.partitions,
        worker.rocksdb_write_buffer_mb,
        SharedMemory.with_budget(worker.rocksdb_block_cache_mb, worker.rocksdb_memtables_mb),
    )
    topic: Any = app.topic(
        kafka.changes_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=kafka.partitions,
    )
    state = StateTables(app, tables)
    checkpoint = Checkpoint(
        state,
        ProducerOptions(
            kafka.bootstrap_servers,
            request_timeout_ms=int(worker.producer_request_timeout_s * 1000),
        ),
        worker.app_id,
        kafka.changes_topic,
        transactional=not broker_quirks.on_tansu(),
        commit_offsets=app.commit_source_offsets,
    )
    runner = StreamRunner(
        app,
        state,
        checkpoint,
        kafka,
        worker,
        lookup,
        processor,
    )
    app.claim_sources = runner.claim_sources
    app.restore_stores = runner.restore_stores
    app.write_standby = state.replay
    register_agents(app, topic, runner, worker)
    readiness = readiness or Readiness()
    install_web_views(app, readiness)
    track_faust_readiness(app, readiness, source_topics=[kafka.changes_topic])
    install_fetch_stall_check(
        app,
        readiness,
        kafka.changes_topic,
        kafka.bootstrap_servers,
        limit_s=worker.fetch_stall_limit_s,
    )
    if loop_stall_limit_s is not None:
        LoopWatchdog(readiness, limit_s=loop_stall_limit_s).start(app.loop)
    install_lag_sampler(app, [kafka.changes_topic])
    watch_the_broker(app, kafka.bootstrap_servers, readiness, reconnect or BackoffPolicy())
    return app, runner


def watch_the_broker(
    app: faust.App, bootstrap: str, readiness: Readiness, policy: BackoffPolicy
) -> None:
    """Faust's clients wait out a broker outage by themselves; the watch reports it."""
    link = DependencyLink("worker", "kafka", readiness, log)

    async def watch() -> None:
        # Faust cancels its tasks when the worker stops; nothing else ends the watch.
        await watch_kafka(bootstrap, link, policy, asyncio.Event())

    app.task(watch)
