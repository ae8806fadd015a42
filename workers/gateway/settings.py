"""The gateway's settings, read from the environment (see the README's table)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    host: str = Field(
        default="127.0.0.1",
        validation_alias="PULSE_GATEWAY_HOST",
        description="Address the gateway listens on; 0.0.0.0 in a container.",
    )
    port: int = Field(
        default=8080,
        ge=0,
        le=65535,
        validation_alias="PULSE_GATEWAY_PORT",
        description="Port of the gateway's page, SSE streams, /metrics, /healthz and /readyz.",
    )
    jwt_secret: str | None = Field(
        default=None,
        validation_alias="SUPABASE_JWT_SECRET",
        description="The project's JWT secret, for HS256 user tokens.",
    )
    jwks_url: str | None = Field(
        default=None,
        validation_alias="SUPABASE_JWKS_URL",
        description="The project's JWKS (…/auth/v1/.well-known/jwks.json), for RS256/ES256 tokens.",
    )
    jwt_audience: str = Field(
        default="authenticated",
        validation_alias="PULSE_GATEWAY_JWT_AUDIENCE",
        description="The aud a user token must carry.",
    )
    membership_ttl_s: float = Field(
        default=30.0,
        gt=0,
        validation_alias="PULSE_GATEWAY_MEMBERSHIP_TTL_S",
        description="How long a site_members answer is trusted; a revoked member's stream ends "
        "within about this long.",
    )
    membership_cache_size: int = Field(
        default=100_000,
        ge=1,
        validation_alias="PULSE_GATEWAY_MEMBERSHIP_CACHE_SIZE",
        description="(user, site) answers kept in the membership cache.",
    )
    replay_per_site: int = Field(
        default=512,
        ge=1,
        validation_alias="PULSE_GATEWAY_REPLAY_PER_SITE",
        description="Updates per site kept for resuming by Last-Event-ID; an older position gets "
        "a reset and a snapshot.",
    )
    ledger_size: int = Field(
        default=50,
        ge=1,
        validation_alias="PULSE_GATEWAY_LEDGER_SIZE",
        description="Intents in the snapshot's ledger (the newest).",
    )
    client_buffer_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        validation_alias="PULSE_GATEWAY_CLIENT_BUFFER_BYTES",
        description="Bytes queued for one client before it is disconnected as slow.",
    )
    heartbeat_s: float = Field(
        default=15.0,
        gt=0,
        validation_alias="PULSE_GATEWAY_HEARTBEAT_S",
        description="Period of the SSE comment sent to every client to keep proxies open.",
    )
    auth_sweep_s: float = Field(
        default=1.0,
        gt=0,
        validation_alias="PULSE_GATEWAY_AUTH_SWEEP_S",
        description="How often streams are checked for expired tokens and revoked memberships.",
    )
    write_timeout_s: float = Field(
        default=10.0,
        gt=0,
        validation_alias="PULSE_GATEWAY_WRITE_TIMEOUT_S",
        description="Longest a write to one client may block before it is dropped.",
    )
    allowed_origins: str = Field(
        default="",
        validation_alias="PULSE_GATEWAY_ALLOWED_ORIGINS",
        description="Comma-separated origins allowed to read the streams cross-origin (CORS); "
        "* for any.",
    )

    @model_validator(mode="after")
    def _one_key_source(self) -> GatewaySettings:
        if not self.jwt_secret and not self.jwks_url:
            raise ValueError("set SUPABASE_JWT_SECRET (HS256) or SUPABASE_JWKS_URL (JWKS)")
        return self

    def origins(self) -> frozenset[str]:
        return frozenset(o.strip() for o in self.allowed_origins.split(",") if o.strip())
