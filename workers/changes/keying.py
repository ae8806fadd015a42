"""Turning a decoded row change into a change keyed by site, or a reason to reject it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from schemas.changes import TRACKED_TABLES, ChangeRecord, ChangeSource, RejectReason
from workers.changes.event_id import event_id


@dataclass(frozen=True)
class Rejection:
    reason: RejectReason
    detail: str
    table: str | None  # None when the message could not even be read as a row change
    payload: dict[str, Any]
    # The refused change's event ID where it has one, so a reject sent twice can be told apart
    # from two rejects of one row.
    event_id: str | None = None


class KeyedChange(NamedTuple):
    """A ``ChangeRecord`` already in its JSON form: the hot path skips pydantic on purpose."""

    site_id: str
    table: str
    body: dict[str, Any]


def site_of(
    table: str, op: str, record: dict[str, Any] | None, old: dict[str, Any] | None
) -> str | None:
    """The site a row belongs to: its own id for ``sites``, else its ``site_id`` column."""
    row = old if op == "DELETE" else record
    if not row:
        return None
    value = row.get("id") if table == "sites" else row.get("site_id")
    return None if value is None else str(value)


@lru_cache(maxsize=1024)
def commit_timestamp_text(commit_ms: int) -> str:
    moment = datetime.fromtimestamp(commit_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{commit_ms % 1000:03d}Z"


def key_change(
    *,
    op: str,
    schema: str,
    table: str,
    record: dict[str, Any] | None,
    old_record: dict[str, Any] | None,
    commit_ms: int,
    source: ChangeSource,
    lsn: int | None = None,
) -> KeyedChange | Rejection:
    """Key a change by its site; records must already be canonical (``values.canonical_row``)."""
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
    new = record if op != "DELETE" else None
    if site_id is None:
        return Rejection(
            "no_site",
            f"{table} row has no site: neither the row nor its old image holds a site id",
            table,
            {"op": op, "record": record, "old_record": old_record},
            event_id(table, op, new, old_record, commit_ms),
        )
    body = {
        "op": op,
        "schema": schema,
        "table": table,
        "record": new,
        "old_record": old_record,
        "commit_timestamp": commit_timestamp_text(commit_ms),
        "site_id": site_id,
        "source": source,
        "lsn": lsn,
        "event_id": event_id(table, op, new, old_record, commit_ms),
    }
    return KeyedChange(site_id, table, body)


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
    """``key_change`` as a validated ``ChangeRecord``, for callers off the hot path."""
    keyed = key_change(
        op=op,
        schema=schema,
        table=table,
        record=record,
        old_record=old_record,
        commit_ms=commit_ms,
        source=source,
        lsn=lsn,
    )
    if isinstance(keyed, Rejection):
        return keyed
    return ChangeRecord.model_validate(keyed.body)
