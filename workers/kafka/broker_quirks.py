"""What the demo's fallback broker (Tansu) lacks, in one place; Apache Kafka never needs it.

``PULSE_BROKER=tansu`` says that the clients talk to Tansu. The demo sets it for its children when
it falls back to that broker on a machine without Java. Tansu hands out no producer IDs and has
no transactions, so producers there are plain at-least-once ones, consumers read uncommitted and
the stream worker runs without transactions; dedup by event ID keeps the results exact.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

TANSU = "tansu"


class BrokerSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    broker: Literal["kafka", "tansu"] = Field(
        default="kafka",
        validation_alias="PULSE_BROKER",
        description="The broker the clients talk to (and the embedded one to start): Apache "
        "Kafka, or the demo's no-Java fallback Tansu, which lacks idempotence and transactions.",
    )


def on_tansu() -> bool:
    return BrokerSettings().broker == TANSU


def producer_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` for an aiokafka producer, without idempotence on Tansu."""
    if on_tansu():
        return {**settings, "enable_idempotence": False}
    return settings


def consumer_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` for an aiokafka consumer, reading uncommitted on Tansu."""
    if on_tansu():
        return {**settings, "isolation_level": "read_uncommitted"}
    return settings
