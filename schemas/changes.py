"""Row changes as they travel on ``supabase_changes`` and ``supabase_changes_rejected``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TRACKED_TABLES: tuple[str, ...] = ("sites", "sessions", "events", "calls", "intents")

ChangeOp = Literal["INSERT", "UPDATE", "DELETE"]

# wal: streamed from the replication slot; wal_snapshot: read by the initial snapshot;
# realtime: a Supabase Realtime postgres_changes push; realtime_catchup: read after a reconnect.
ChangeSource = Literal["wal", "wal_snapshot", "realtime", "realtime_catchup"]

RejectReason = Literal[
    "no_site",
    "unknown_table",
    "undecodable",
    "malformed",
    "site_mismatch",
    "unknown_session",
    "processing_error",
]


class ChangeRecord(BaseModel):
    """One committed row change, keyed by the site it belongs to (as claimed by the row)."""

    op: ChangeOp
    schema_: str = Field(default="public", alias="schema")
    table: str
    record: dict[str, Any] | None = None
    old_record: dict[str, Any] | None = None
    commit_timestamp: datetime
    site_id: str
    source: ChangeSource
    lsn: int | None = None
    event_id: str

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ChangeBatch(BaseModel):
    """The value of one ``supabase_changes`` message: changes of one site, in commit order.

    Batching several changes into one message is what keeps the stream worker fast: Faust's cost
    is per Kafka message, not per change.
    """

    model_config = ConfigDict(extra="forbid")

    site_id: str
    changes: list[ChangeRecord]


class RejectedRecord(BaseModel):
    """The value of one ``supabase_changes_rejected`` message: what was refused and why."""

    model_config = ConfigDict(extra="forbid")

    reason: RejectReason
    detail: str
    stage: Literal["ingest", "stream"]
    site_id: str | None = None
    event_id: str | None = None
    table: str | None = None
    payload: Any = None
