"""Where the ingest worker serves /metrics, /healthz and /readyz (either source)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestEndpointSettings(BaseSettings):
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
