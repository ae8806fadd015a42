"""Settings every kind of process shares, read from the environment (see the README's table).

Kafka and Postgres connections (brokers, topics, TLS and SASL, the broker kind), logging,
liveness and reconnect backoff. What only one kind of process reads is in its package's
``settings`` module: ``workers.ingest.settings``, ``workers.stream.settings``,
``workers.gateway.settings``.

A wrong value fails at start with pydantic's message, which names the variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.resilience.backoff import BackoffPolicy


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


class BrokerSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    broker: Literal["kafka", "tansu"] = Field(
        default="kafka",
        validation_alias="PULSE_BROKER",
        description="The broker the clients talk to (and the embedded one to start): Apache "
        "Kafka, or the demo's no-Java fallback Tansu, which lacks idempotence and transactions.",
    )


SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

PROTOCOL = "KAFKA_SECURITY_PROTOCOL"
CA_FILE = "KAFKA_SSL_CA_FILE"
CERT_FILE = "KAFKA_SSL_CERT_FILE"
KEY_FILE = "KAFKA_SSL_KEY_FILE"
KEY_PASSWORD = "KAFKA_SSL_KEY_PASSWORD"
KEY_PASSWORD_FILE = "KAFKA_SSL_KEY_PASSWORD_FILE"
CHECK_HOSTNAME = "KAFKA_SSL_CHECK_HOSTNAME"
MECHANISM = "KAFKA_SASL_MECHANISM"
USERNAME = "KAFKA_SASL_USERNAME"
PASSWORD = "KAFKA_SASL_PASSWORD"
PASSWORD_FILE = "KAFKA_SASL_PASSWORD_FILE"


class KafkaSecuritySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT",
        validation_alias=PROTOCOL,
        description="How every Kafka client talks to the brokers: in the clear, over TLS (SSL), "
        "with SASL, or with SASL over TLS (SASL_SSL, e.g. Confluent Cloud, MSK, Strimzi).",
    )
    ssl_ca_file: Path | None = Field(
        default=None,
        validation_alias=CA_FILE,
        description="PEM file of the CAs that signed the brokers' certificates (unset: the "
        "system's CAs).",
    )
    ssl_cert_file: Path | None = Field(
        default=None,
        validation_alias=CERT_FILE,
        description="PEM client certificate (chain) for mutual TLS; needs KAFKA_SSL_KEY_FILE.",
    )
    ssl_key_file: Path | None = Field(
        default=None,
        validation_alias=KEY_FILE,
        description="PEM private key of KAFKA_SSL_CERT_FILE.",
    )
    ssl_key_password: SecretStr | None = Field(
        default=None,
        validation_alias=KEY_PASSWORD,
        description="Password of an encrypted KAFKA_SSL_KEY_FILE.",
    )
    ssl_key_password_file: Path | None = Field(
        default=None,
        validation_alias=KEY_PASSWORD_FILE,
        description="File holding KAFKA_SSL_KEY_PASSWORD instead.",
    )
    ssl_check_hostname: bool = Field(
        default=True,
        validation_alias=CHECK_HOSTNAME,
        description="Check that a broker's certificate names the host dialled; the chain is "
        "verified either way.",
    )
    sasl_mechanism: SaslMechanism = Field(
        default="PLAIN",
        validation_alias=MECHANISM,
        description="SASL mechanism with SASL_PLAINTEXT or SASL_SSL.",
    )
    sasl_username: str | None = Field(
        default=None,
        validation_alias=USERNAME,
        description="SASL user (Confluent Cloud: the API key).",
    )
    sasl_password: SecretStr | None = Field(
        default=None,
        validation_alias=PASSWORD,
        description="SASL password (Confluent Cloud: the API secret).",
    )
    sasl_password_file: Path | None = Field(
        default=None,
        validation_alias=PASSWORD_FILE,
        description="File holding KAFKA_SASL_PASSWORD instead (a trailing newline is ignored).",
    )


class ReconnectSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    initial_s: float = Field(
        default=0.25,
        gt=0,
        validation_alias="PULSE_RECONNECT_INITIAL_S",
        description="First wait before reconnecting to a lost Postgres or Kafka; doubles per attempt.",
    )
    maximum_s: float = Field(
        default=10.0,
        gt=0,
        validation_alias="PULSE_RECONNECT_MAX_S",
        description="Longest wait between two reconnect attempts (each wait is drawn from its upper half).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> ReconnectSettings:
        if self.initial_s > self.maximum_s:
            raise ValueError("PULSE_RECONNECT_INITIAL_S must not exceed PULSE_RECONNECT_MAX_S")
        return self

    def policy(self) -> BackoffPolicy:
        return BackoffPolicy(initial_s=self.initial_s, maximum_s=self.maximum_s)


class SettingError(Exception):
    """A setting or option that is missing or cannot work; ``str()`` is the one line to print.

    ``pulse`` reports it with exit status 2, like an invalid value.
    """


def require(value: str | None, variable: str, purpose: str) -> str:
    if not value:
        raise SettingError(f"{variable} is not set; it is needed {purpose}")
    return value
