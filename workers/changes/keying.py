"""Turning a decoded row change into a ``ChangeRecord`` keyed by site, or a reason to reject it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from schemas.changes import TRACKED_TABLES, ChangeRecord, ChangeSource, RejectReason
from workers.changes.event_id import event_id


@dataclass(frozen=True)
class Rejection:
    reason: RejectReason
    detail: str
    table: str
    payload: dict[str, Any]


def site_of(
    table: str, op: str, record: dict[str, Any] | None, old: dict[str, Any] | None
) -> str | None:
    """The site a row belongs to: its own id for ``sites``, else its ``site_id`` column."""
    row = old if op == "DELETE" else record
    if not row:
        return None
    value = row.get("id") if table == "sites" else row.get("site_id")
    return None if value is None else str(value)


def build_change(
    *,
    op: str,
    schema: str,
    table: str,
    record: dict[str, Any] | None,
    old_record: dict[str, Any] | None,
    commit_ms: int,
    source: ChangeSource,
    lsn: int | None = None,
) -> ChangeRecord | Rejection:
    if schema != "public" or table not in TRACKED_TABLES:
        return Rejection(
            "unknown_table",
            f"{schema}.{table} is not one of the tracked tables {', '.join(TRACKED_TABLES)}",
            table,
            {"op": op, "record": record, "old_record": old_record},
        )
    if op not in ("INSERT", "UPDATE", "DELETE"):
        return Rejection("malformed", f"unknown operation {op!r}", table, {"op": op})
    site_id = site_of(table, op, record, old_record)
    if site_id is None:
        return Rejection(
            "no_site",
            f"{table} row has no site: neither the row nor its old image holds a site id",
            table,
            {"op": op, "record": record, "old_record": old_record},
        )
    return ChangeRecord(  # type: ignore[call-arg]
        op=op,
        schema=schema,
        table=table,
        record=record if op != "DELETE" else None,
        old_record=old_record,
        commit_timestamp=datetime.fromtimestamp(commit_ms / 1000, tz=UTC),
        site_id=site_id,
        source=source,
        lsn=lsn,
        event_id=event_id(table, op, record if op != "DELETE" else None, old_record, commit_ms),
    )
