"""Settings of the WAL source (environment variables, see the README's table)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WalIngestOptions(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

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
