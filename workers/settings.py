"""Settings shared by every command, read from the environment (see the README's table).

A wrong value fails at start with pydantic's message, which names the variable.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    bootstrap_servers: str | None = Field(
        default=None,
        validation_alias="KAFKA_BOOTSTRAP_SERVERS",
        description="Kafka brokers; unset means start a throwaway Apache Kafka where allowed.",
    )
    changes_topic: str = Field(
        default="supabase_changes",
        validation_alias="PULSE_CHANGES_TOPIC",
        description="Topic of row changes, keyed by site_id (ingest writes, stream workers read).",
    )
    updates_topic: str = Field(
        default="dashboard_updates",
        validation_alias="PULSE_UPDATES_TOPIC",
        description="Topic of typed dashboard updates, keyed by site_id.",
    )
    rejected_topic: str = Field(
        default="supabase_changes_rejected",
        validation_alias="PULSE_REJECTED_TOPIC",
        description="Quarantine topic: rejected records with their reason.",
    )
    partitions: int = Field(
        default=8,
        ge=1,
        le=1024,
        validation_alias="PULSE_PARTITIONS",
        description="Partitions of the project's topics; also the most stream workers that help.",
    )
    replication_factor: int = Field(
        default=1,
        ge=1,
        validation_alias="PULSE_REPLICATION_FACTOR",
        description="Replication factor of topics the workers create.",
    )


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="Postgres DSN (direct connection, not the pooler, for the WAL source).",
    )


class LogSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    log_format: Literal["auto", "json", "console"] = Field(
        default="auto",
        validation_alias="PULSE_LOG_FORMAT",
        description="auto: JSON lines unless stderr is a terminal.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", validation_alias="PULSE_LOG_LEVEL", description="Lowest level logged."
    )


class LivenessSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    loop_stall_limit_s: float = Field(
        default=30.0,
        gt=0,
        validation_alias="PULSE_LOOP_STALL_LIMIT_S",
        description="/healthz fails for good once the event loop ran nothing for longer than "
        "this (ingest, stream worker, gateway); keep it within the liveness probe's failure "
        "window.",
    )


class SettingError(Exception):
    """A setting or option that is missing or cannot work; ``str()`` is the one line to print.

    ``pulse`` reports it with exit status 2, like an invalid value.
    """


def require(value: str | None, variable: str, purpose: str) -> str:
    if not value:
        raise SettingError(f"{variable} is not set; it is needed {purpose}")
    return value
