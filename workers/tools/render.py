"""How ``pulse tail`` shows an update: a coloured line in a terminal, a JSON line otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from rich.text import Text

from schemas.updates import (
    CallCreated,
    CallUpdated,
    ChartRefresh,
    ConversionSealed,
    DashboardUpdate,
    DataFreshness,
    EventCreated,
    IntentCreated,
    IntentUpdated,
    KpiUpdated,
    PulseStatus,
    SessionHeartbeat,
)
from workers.tools.tail import SiteRecord

STYLES: dict[str, str] = {
    "kpi_updated": "bold cyan",
    "conversion_sealed": "bold green",
    "intent_created": "green",
    "intent_updated": "green",
    "call_created": "magenta",
    "call_updated": "magenta",
    "event_created": "blue",
    "session_heartbeat": "dim",
    "data_freshness": "dim",
    "chart_refresh": "yellow",
    "pulse_status": "bold red",
}


def iso_ms(timestamp_ms: int) -> str:
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def summary(update: DashboardUpdate) -> str:
    """The gist of an update in a few words."""
    match update:
        case KpiUpdated(kpis=k):
            return (
                f"{k.day}: sessions={k.sessions} events={k.events} calls={k.calls} "
                f"intents={k.intents} conversions={k.conversions} rate={k.conversion_rate:.4f}"
            )
        case IntentCreated(intent=i):
            return f"intent {i.id} {i.status}"
        case IntentUpdated(intent=i, deleted=deleted):
            return f"intent {i.id} {'deleted' if deleted else i.status}"
        case ConversionSealed(intent_id=intent_id, sealed_at=sealed_at):
            return f"intent {intent_id} sealed at {sealed_at.isoformat()}"
        case CallCreated(call=c):
            return f"call {c.id} {c.status}"
        case CallUpdated(call=c, deleted=deleted):
            return f"call {c.id} {'deleted' if deleted else c.status}"
        case EventCreated(event=e):
            return f"event {e.name!r} in session {e.session_id}"
        case SessionHeartbeat(session_id=session_id, last_seen_at=last_seen_at):
            return f"session {session_id} seen {last_seen_at.isoformat()}"
        case DataFreshness(lag_ms=lag_ms, last_change_at=last_change_at):
            return f"lag {lag_ms:.0f} ms (newest change {last_change_at.isoformat()})"
        case ChartRefresh(day=day, buckets=buckets, bucket_minutes=minutes):
            return f"{day}: {len(buckets)} buckets of {minutes} min"
        case PulseStatus(status=status, live=live, source=source, detail=detail):
            state = "LIVE" if live else "OFFLINE"
            return f"{state} ({status}, {source})" + (f": {detail}" if detail else "")
    return ""


def pretty_line(record: SiteRecord, update: DashboardUpdate) -> Text:
    line = Text()
    line.append(f"{iso_ms(record.timestamp_ms)} ", style="dim")
    line.append(f"@{record.offset} ", style="dim")
    line.append(f"#{update.seq} ", style="dim")
    line.append(f"{update.type:<18}", style=STYLES.get(update.type, ""))
    line.append(summary(update))
    return line


def json_line(record: SiteRecord, update: DashboardUpdate) -> bytes:
    """``{"partition", "offset", "timestamp", "update"}``; ``update`` as the model dumps it."""
    body: dict[str, Any] = {
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": iso_ms(record.timestamp_ms),
        "update": update.model_dump(mode="json"),
    }
    return orjson.dumps(body)


def invalid_line(record: SiteRecord) -> str:
    return (
        f"warning: partition {record.partition} offset {record.offset} is not a valid "
        f"update: {record.error}"
    )
