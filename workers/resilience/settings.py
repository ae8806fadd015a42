"""How long-running processes wait between reconnect attempts (environment variables)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.resilience.backoff import BackoffPolicy


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
