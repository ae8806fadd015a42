"""Builders of dashboard updates for the tools' tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from schemas.updates import (
    CallUpdated,
    CallView,
    EventCreated,
    EventView,
    IntentCreated,
    IntentView,
    KpiSnapshot,
    KpiUpdated,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def kpi_update(site_id: str, seq: int, day: date, **figures: Any) -> KpiUpdated:
    return KpiUpdated(
        site_id=site_id, seq=seq, emitted_at=NOW, kpis=KpiSnapshot(day=day, **figures)
    )


def event_update(site_id: str, seq: int) -> EventCreated:
    return EventCreated(
        site_id=site_id,
        seq=seq,
        emitted_at=NOW,
        event_ids=[f"ev-{site_id}-{seq}"],
        event=EventView(id=f"e{seq}", session_id="s1", name=f"click-{seq}", created_at=NOW),
    )


def call_update(
    site: str, seq: int, call_id: str, status: str, deleted: bool = False, **extra: Any
) -> CallUpdated:
    """A ``call_updated`` of ``site``; ``extra`` adds columns to the row (its ``site_id`` too)."""
    row = {"id": call_id, "status": status, "created_at": NOW, "updated_at": NOW, **extra}
    return CallUpdated(
        site_id=site,
        seq=seq,
        emitted_at=NOW,
        call=CallView.model_validate(row),
        deleted=deleted,
    )


def intent_created(site_id: str, seq: int, intent_id: str, **extra: Any) -> IntentCreated:
    row = {"id": intent_id, "status": "open", "created_at": NOW, "updated_at": NOW, **extra}
    return IntentCreated(
        site_id=site_id, seq=seq, emitted_at=NOW, intent=IntentView.model_validate(row)
    )


def sites_on_partitions(partitions: int, prefix: str) -> tuple[str, str, str]:
    """Two site ids hashed to the same partition and a third one hashed elsewhere."""
    from workers.kafka.partitioner import partition_for

    by_partition: dict[int, list[str]] = {}
    n = 0
    while True:
        site = f"{prefix}-site-{n}"
        n += 1
        p = partition_for(site.encode(), partitions)
        by_partition.setdefault(p, []).append(site)
        same = [s for s in by_partition.values() if len(s) >= 2]
        if same and len(by_partition) >= 2:
            first, second = same[0][:2]
            home = partition_for(first.encode(), partitions)
            other = next(s[0] for q, s in by_partition.items() if q != home)
            return first, second, other
