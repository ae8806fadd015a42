"""Typed updates on ``dashboard_updates``, one model per ``type``, all keyed by ``site_id``.

Every update carries a per-site ``seq`` that only grows, the IDs of the changes it derives from,
and their latest commit time, so that subscribers can drop duplicates and order what they get.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class UpdateBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: str
    seq: int = Field(ge=0, description="Per-site sequence number; grows with every update.")
    event_ids: list[str] = Field(default_factory=list)
    commit_timestamp: datetime | None = None
    emitted_at: datetime


class IntentView(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    session_id: str | None = None
    call_id: str | None = None
    status: str
    sealed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class CallView(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    session_id: str | None = None
    status: str
    created_at: datetime
    updated_at: datetime


class EventView(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    session_id: str
    name: str
    created_at: datetime


class KpiSnapshot(BaseModel):
    """One site's KPIs for one UTC day."""

    model_config = ConfigDict(extra="forbid")

    day: date
    sessions: int = 0
    events: int = 0
    calls: int = 0
    intents: int = 0
    conversions: int = 0
    conversion_rate: float = 0.0
    last_event_at: datetime | None = None


class TimelineBucket(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime
    sessions: int = 0
    events: int = 0
    calls: int = 0
    intents: int = 0
    conversions: int = 0


class IntentCreated(UpdateBase):
    type: Literal["intent_created"] = "intent_created"
    intent: IntentView


class IntentUpdated(UpdateBase):
    type: Literal["intent_updated"] = "intent_updated"
    intent: IntentView
    deleted: bool = False


class ConversionSealed(UpdateBase):
    type: Literal["conversion_sealed"] = "conversion_sealed"
    intent_id: str
    sealed_at: datetime


class CallCreated(UpdateBase):
    type: Literal["call_created"] = "call_created"
    call: CallView


class CallUpdated(UpdateBase):
    type: Literal["call_updated"] = "call_updated"
    call: CallView
    deleted: bool = False


class EventCreated(UpdateBase):
    type: Literal["event_created"] = "event_created"
    event: EventView


class SessionHeartbeat(UpdateBase):
    type: Literal["session_heartbeat"] = "session_heartbeat"
    session_id: str
    started_at: datetime
    last_seen_at: datetime


class DataFreshness(UpdateBase):
    type: Literal["data_freshness"] = "data_freshness"
    last_change_at: datetime
    lag_ms: float = Field(description="Emit time minus the newest commit time, in milliseconds.")


class KpiUpdated(UpdateBase):
    type: Literal["kpi_updated"] = "kpi_updated"
    kpis: KpiSnapshot


class ChartRefresh(UpdateBase):
    type: Literal["chart_refresh"] = "chart_refresh"
    day: date
    bucket_minutes: int = 5
    buckets: list[TimelineBucket]


class PulseStatus(UpdateBase):
    """Whether the site's source is live; ``status`` follows the Realtime channel states."""

    type: Literal["pulse_status"] = "pulse_status"
    status: Literal["SUBSCRIBED", "CHANNEL_ERROR", "TIMED_OUT", "CLOSED", "LIVE", "OFFLINE"]
    live: bool
    source: str
    detail: str | None = None


DashboardUpdate = Annotated[
    IntentCreated
    | IntentUpdated
    | ConversionSealed
    | CallCreated
    | CallUpdated
    | EventCreated
    | SessionHeartbeat
    | DataFreshness
    | KpiUpdated
    | ChartRefresh
    | PulseStatus,
    Field(discriminator="type"),
]

dashboard_update_adapter: TypeAdapter[DashboardUpdate] = TypeAdapter(DashboardUpdate)

UPDATE_TYPES: tuple[str, ...] = (
    "intent_created",
    "intent_updated",
    "session_heartbeat",
    "conversion_sealed",
    "data_freshness",
    "call_created",
    "call_updated",
    "event_created",
    "kpi_updated",
    "chart_refresh",
    "pulse_status",
)
