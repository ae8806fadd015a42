"""Settings of the emulator; the defaults suit tests (no artificial delays), see each field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EmulatorConfig:
    dsn: str
    host: str = "127.0.0.1"
    port: int = 0
    # HS256 secret; None accepts any key (no JWT checks), like a bare local stack.
    jwt_secret: str | None = None
    publication: str = "supabase_realtime"
    poll_interval_ms: float = 100.0
    max_changes: int = 100
    max_record_bytes: int = 1_048_576
    # Real server: 2 000 ms before refusing a connection, 5 000 ms before a join error reply.
    connect_error_delay_ms: float = 0.0
    channel_error_backoff_ms: float = 0.0
    # Real server: 0-3 s between the join reply and "Subscribed to PostgreSQL".
    subscribe_delay_ms: float = 0.0
    max_channels_per_socket: int = 100
    idle_timeout_s: float = 60.0
    token_check_max_s: float = 300.0
    publication_check_s: float = 60.0
