"""Settings of ``pulse ingest``, either source (environment variables, see the README's table)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TABLES = "sessions,events,calls,intents"
# aiokafka's own request timeout, so the setting's default changes nothing.
DEFAULT_SEND_TIMEOUT_S = 40.0


class IngestEndpointSettings(BaseSettings):
    """Where the ingest serves /metrics, /healthz and /readyz (either source)."""

    model_config = SettingsConfigDict(extra="ignore")

    metrics_port: int = Field(
        default=9100,
        ge=0,
        le=65535,
        validation_alias="PULSE_INGEST_METRICS_PORT",
        description="Port of /metrics, /healthz and /readyz for the ingest worker (0: off).",
    )
    metrics_host: str = Field(
        default="0.0.0.0",
        validation_alias="PULSE_INGEST_METRICS_HOST",
        description="Address the ingest worker's /metrics, /healthz and /readyz listen on.",
    )


class IngestSendSettings(BaseSettings):
    """How the ingest's producer waits for Kafka, read by either source's settings."""

    model_config = SettingsConfigDict(extra="ignore")

    send_timeout_s: float = Field(
        default=DEFAULT_SEND_TIMEOUT_S,
        gt=0,
        validation_alias="PULSE_INGEST_SEND_TIMEOUT_S",
        description="How long a send may wait for a partition leader before it fails and the "
        "ingest resumes from its confirmed position on a new producer.",
    )


class WalIngestSettings(IngestSendSettings):
    slot_name: str = Field(
        default="realtime_pulse",
        pattern=r"^[a-z0-9_]{1,63}$",
        validation_alias="PULSE_SLOT_NAME",
        description="Logical replication slot; created when missing.",
    )
    publication: str = Field(
        default="realtime_pulse",
        pattern=r"^[a-z0-9_]{1,63}$",
        validation_alias="PULSE_PUBLICATION",
        description="Publication of the tracked tables; created when missing.",
    )
    heartbeat_interval_s: float = Field(
        default=10.0,
        gt=0,
        validation_alias="PULSE_HEARTBEAT_INTERVAL_S",
        description="How often a heartbeat message is written to the WAL to advance an idle slot.",
    )
    flush_interval_ms: float = Field(
        default=20.0,
        gt=0,
        validation_alias="PULSE_INGEST_FLUSH_MS",
        description="Longest time a change waits in the ingest buffer before it is sent.",
    )
    max_buffered: int = Field(
        default=5000,
        ge=1,
        validation_alias="PULSE_INGEST_MAX_BUFFERED",
        description="Changes buffered before the ingest sends them without waiting.",
    )
    max_in_flight: int = Field(
        default=16,
        ge=1,
        validation_alias="PULSE_INGEST_MAX_IN_FLIGHT",
        description="Unacknowledged sends before the ingest stops reading the slot.",
    )
    snapshot: bool = Field(
        default=True,
        validation_alias="PULSE_INITIAL_SNAPSHOT",
        description="Read existing rows through a consistent snapshot when the slot is created.",
    )


class SupabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    supabase_url: str | None = Field(
        default=None,
        validation_alias="SUPABASE_URL",
        description="Project URL, e.g. https://<ref>.supabase.co (or the emulator's URL).",
    )
    supabase_service_key: str | None = Field(
        default=None,
        validation_alias="SUPABASE_SERVICE_KEY",
        description="API key sent as apikey (service_role key, or the anon key with a user JWT).",
    )
    supabase_access_token_file: str | None = Field(
        default=None,
        validation_alias="SUPABASE_ACCESS_TOKEN_FILE",
        description="File holding a user JWT, re-read before the token expires (unset: use the key).",
    )


class RealtimeIngestSettings(IngestSendSettings):
    tables_csv: str = Field(
        default=DEFAULT_TABLES,
        validation_alias="PULSE_REALTIME_TABLES",
        description="Tables subscribed (one postgres_changes binding each) and caught up.",
    )
    channel_prefix: str = Field(
        default="pulse_ingest",
        pattern=r"^[A-Za-z0-9_-]{1,60}$",
        validation_alias="PULSE_REALTIME_CHANNEL",
        description="Channel topic prefix; each client generation joins a topic of its own.",
    )
    join_timeout_s: int = Field(
        default=10,
        ge=1,
        validation_alias="PULSE_REALTIME_JOIN_TIMEOUT_S",
        description="Join reply timeout of the realtime client (its TIMED_OUT).",
    )
    heartbeat_s: int = Field(
        default=25,
        ge=1,
        validation_alias="PULSE_REALTIME_HEARTBEAT_S",
        description="Phoenix heartbeat interval of the realtime client (it sends at most every 15 s).",
    )
    client_max_retries: int = Field(
        default=5,
        ge=1,
        validation_alias="PULSE_REALTIME_MAX_RETRIES",
        description="Reconnect attempts the realtime client makes before the source rebuilds it.",
    )
    client_initial_backoff_s: float = Field(
        default=1.0,
        gt=0,
        validation_alias="PULSE_REALTIME_INITIAL_BACKOFF_S",
        description="First reconnect wait of the realtime client; it doubles per attempt.",
    )
    live_deadline_s: float = Field(
        default=30.0,
        gt=0,
        validation_alias="PULSE_REALTIME_LIVE_DEADLINE_S",
        description="A client not live again this long after losing the stream is rebuilt.",
    )
    rebuild_backoff_s: float = Field(
        default=1.0,
        gt=0,
        validation_alias="PULSE_REALTIME_REBUILD_BACKOFF_S",
        description="First wait before rebuilding a failed client; doubles up to the maximum.",
    )
    rebuild_backoff_max_s: float = Field(
        default=30.0, gt=0, validation_alias="PULSE_REALTIME_REBUILD_BACKOFF_MAX_S"
    )
    catchup_interval_s: float = Field(
        default=30.0,
        gt=0,
        validation_alias="PULSE_REALTIME_CATCHUP_INTERVAL_S",
        description="Periodic catch-up through PostgREST (also run after every subscribe).",
    )
    catchup_lookback_s: float = Field(
        default=10.0,
        ge=0,
        validation_alias="PULSE_REALTIME_CATCHUP_LOOKBACK_S",
        description="Re-read window below the high-water mark: covers transactions that commit "
        "after a later-started one (updated_at is the start time); longer transactions can be missed.",
    )
    catchup_page_size: int = Field(
        default=1000, ge=1, le=10000, validation_alias="PULSE_REALTIME_CATCHUP_PAGE"
    )
    initial_catchup: Literal["all", "none"] = Field(
        default="all",
        validation_alias="PULSE_REALTIME_INITIAL_CATCHUP",
        description="all: the first catch-up reads every row (a snapshot); none: start from now.",
    )
    token_refresh_margin_s: float = Field(
        default=60.0,
        gt=0,
        validation_alias="PULSE_REALTIME_TOKEN_MARGIN_S",
        description="A user JWT is replaced this long before its exp.",
    )
    status_sites_csv: str = Field(
        default="",
        validation_alias="PULSE_STATUS_SITES",
        description="Sites sent pulse_status updates; empty: every site in the sites table.",
    )
    flush_interval_ms: float = Field(
        default=20.0,
        gt=0,
        validation_alias="PULSE_REALTIME_FLUSH_MS",
        description="Longest time a pushed change waits in the ingest buffer before it is sent.",
    )
    max_buffered: int = Field(
        default=5000,
        ge=1,
        validation_alias="PULSE_REALTIME_MAX_BUFFERED",
        description="Changes buffered before the Realtime source sends them without waiting.",
    )
    seen_versions: int = Field(
        default=200_000,
        ge=0,
        validation_alias="PULSE_REALTIME_SEEN_VERSIONS",
        description="Row versions remembered so a catch-up skips states already pushed.",
    )

    @property
    def tables(self) -> list[str]:
        return [t.strip() for t in self.tables_csv.split(",") if t.strip()]

    @property
    def status_sites(self) -> list[str]:
        return [s.strip() for s in self.status_sites_csv.split(",") if s.strip()]
