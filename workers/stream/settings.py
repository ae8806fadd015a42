"""Settings of the stream worker (``pulse worker``), read from the environment.

Topic names and partition counts come from ``workers.settings.KafkaSettings``; the Postgres
lookup of unknown sessions uses ``DATABASE_URL`` (``DatabaseSettings``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StreamSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    fetch_max_wait_ms: int = Field(
        default=10,
        ge=1,
        le=10_000,
        validation_alias="PULSE_FETCH_MAX_WAIT_MS",
        description="Longest time an idle fetch of supabase_changes waits (Faust's own is 1500).",
    )

    app_id: str = Field(
        default="realtime-pulse",
        pattern=r"^[A-Za-z0-9._-]{1,100}$",
        validation_alias="PULSE_APP_ID",
        description="Faust app id: the consumer group and the prefix of the changelog topics.",
    )
    data_dir: Path = Field(
        default=Path("./pulse-data"),
        validation_alias="PULSE_DATA_DIR",
        description="RocksDB state; one directory per worker, never shared.",
    )
    web_port: int = Field(
        default=6066,
        ge=0,
        le=65535,
        validation_alias="PULSE_WEB_PORT",
        description="Faust's web server port (0: web server off).",
    )
    web_bind: str = Field(
        default="127.0.0.1",
        validation_alias="PULSE_WEB_BIND",
        description="Address of the web server (/metrics, /healthz, /readyz); 0.0.0.0 in a container.",
    )
    dedup_horizon_s: float = Field(
        default=86_400.0,
        gt=0,
        validation_alias="PULSE_DEDUP_HORIZON_S",
        description="Event IDs older than this (event time, behind the newest change) expire.",
    )
    dedup_purge_interval_s: float = Field(
        default=600.0,
        gt=0,
        validation_alias="PULSE_DEDUP_PURGE_INTERVAL_S",
        description="How often expired event IDs are purged from the dedup table.",
    )
    chart_interval_s: float = Field(
        default=300.0,
        gt=0,
        validation_alias="PULSE_CHART_INTERVAL_S",
        description="How often chart_refresh is published for the sites that changed.",
    )
    freshness_interval_s: float = Field(
        default=1.0,
        gt=0,
        validation_alias="PULSE_FRESHNESS_INTERVAL_S",
        description="Least time between two data_freshness updates of one site.",
    )
    batch_max_runs: int = Field(
        default=8,
        ge=1,
        validation_alias="PULSE_BATCH_MAX_RUNS",
        description="Fetched runs (one partition's consecutive messages from one fetch) taken "
        "together, and buffered ahead of the agent.",
    )
    batch_max_bytes: int = Field(
        default=2_000_000,
        ge=1,
        validation_alias="PULSE_BATCH_MAX_BYTES",
        description="Largest input processed in one round (then published and persisted): "
        "bounds the worker's memory.",
    )
    # Fewer, larger batches mean fewer produce requests and transaction round trips per change,
    # which lowered end-to-end latency under load (bench/RESULTS.md).
    batch_within_s: float = Field(
        default=0.02,
        gt=0,
        validation_alias="PULSE_BATCH_WITHIN_S",
        description="Longest wait to fill a batch; also bounds how long an event waits for its "
        "session before Postgres is asked.",
    )
    max_pending_events: int = Field(
        default=10_000,
        ge=1,
        validation_alias="PULSE_MAX_PENDING_EVENTS",
        description="Events waiting for their session before Postgres is asked early.",
    )
    # The broker's least (group.min.session.timeout.ms, 6 s by default): a dead worker's
    # partitions wait this long for their next owner. Heartbeats come from Faust's consumer
    # thread, not the agent's, so a long batch does not count against it; only a stall of the
    # whole process does.
    session_timeout_s: float = Field(
        default=6.0,
        gt=0,
        validation_alias="PULSE_SESSION_TIMEOUT_S",
        description="Consumer group session timeout: how long a dead worker holds partitions "
        "(at least the broker's group.min.session.timeout.ms).",
    )
    producer_request_timeout_s: float = Field(
        default=60.0,
        gt=0,
        validation_alias="PULSE_PRODUCER_REQUEST_TIMEOUT_S",
        description="How long a publish or persist may wait for the broker before the worker "
        "stops, leaving that batch uncommitted for its successor.",
    )
    standby_replicas: int = Field(
        default=1,
        ge=0,
        validation_alias="PULSE_STANDBY_REPLICAS",
        description="Standby copies of each table partition kept by other workers.",
    )
    log_level: str = Field(
        default="info",
        pattern=r"^(debug|info|warning|error)$",
        validation_alias="PULSE_WORKER_LOG_LEVEL",
        description="Faust's log level (the worker turns Faust's terminal spinner off).",
    )
    rocksdb_write_buffer_mb: int = Field(
        default=2,
        ge=1,
        validation_alias="PULSE_ROCKSDB_WRITE_BUFFER_MB",
        description="RocksDB memtable size per table partition (Faust's default is 64 MB x 3).",
    )
    rocksdb_memtables_mb: int = Field(
        default=24,
        ge=1,
        validation_alias="PULSE_ROCKSDB_MEMTABLES_MB",
        description="Memtables of all table partitions together; past it RocksDB flushes early.",
    )
    rocksdb_block_cache_mb: int = Field(
        default=16,
        ge=1,
        validation_alias="PULSE_ROCKSDB_BLOCK_CACHE_MB",
        description="RocksDB block cache shared by all table partitions.",
    )
    stalled_fetch_check_s: float = Field(
        default=1.0,
        gt=0,
        validation_alias="PULSE_STALLED_FETCH_CHECK_S",
        description="How often the worker looks for source records fetched but never delivered "
        "to its agent (two checks in a row, with the agent idle, trigger a fetch again).",
    )
    fetch_stall_limit_s: float = Field(
        default=300.0,
        gt=0,
        validation_alias="PULSE_FETCH_STALL_LIMIT_S",
        description="/healthz fails while the worker holds source partitions with records left "
        "to read but has fetched none of them for longer than this (restores and rebalances "
        "excepted); longer than a batch may take (PULSE_PRODUCER_REQUEST_TIMEOUT_S).",
    )
    progress_interval_s: float = Field(
        default=10.0,
        gt=0,
        validation_alias="PULSE_PROGRESS_INTERVAL_S",
        description="How often the worker logs its totals and assigned partitions.",
    )
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        validation_alias="PULSE_WORKER_METRICS_PORT",
        description="Port of the Prometheus /metrics endpoint (0: off).",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        validation_alias="PULSE_WORKER_METRICS_HOST",
        description="Address of that endpoint; 0.0.0.0 (all interfaces) for a Prometheus "
        "outside the pod or container.",
    )
