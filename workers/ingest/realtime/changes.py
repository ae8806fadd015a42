"""Realtime pushes and PostgREST catch-up rows as ``ChangeRecord``s (pure).

A push gives the same record and event ID as the WAL source for the same committed change: values
are canonicalised with the types the payload's ``columns`` name, and the commit time, which
Realtime sends in UTC milliseconds, is the WAL commit time truncated to milliseconds.

A catch-up row is a *read*, not a change: it carries ``source="realtime_catchup"``, the row's
``updated_at`` as its commit time (never later than the commit that wrote that state), ``INSERT``
when the row was never updated (``created_at == updated_at``) and otherwise ``UPDATE`` with the
key as ``old_record``, as Realtime sends on tables with row-level security. When ``updated_at``
falls in the commit's millisecond, a read and the push of the same state can share an event ID,
and the second one is dropped as a re-delivery; the stream worker orders a row's reads and pushes
by its ``row_version`` (``workers.stream.rules.versions``), not by their arrival.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.changes import ChangeRecord
from workers.changes.keying import Rejection, build_change
from workers.changes.values import canonical_row, timestamp_ms

# The tracked tables' column types (schemas/sql), for catch-up rows read before any push told the
# types; a test checks them against the live schema.
CATCHUP_COLUMN_TYPES: dict[str, dict[str, str]] = {
    "sites": {
        "id": "uuid",
        "name": "text",
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
        "row_version": "int8",
    },
    "sessions": {
        "id": "uuid",
        "site_id": "uuid",
        "started_at": "timestamptz",
        "last_seen_at": "timestamptz",
        "updated_at": "timestamptz",
        "row_version": "int8",
    },
    "events": {
        "id": "uuid",
        "session_id": "uuid",
        "site_id": "uuid",
        "name": "text",
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
        "row_version": "int8",
    },
    "calls": {
        "id": "uuid",
        "site_id": "uuid",
        "session_id": "uuid",
        "status": "text",
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
        "row_version": "int8",
    },
    "intents": {
        "id": "uuid",
        "site_id": "uuid",
        "session_id": "uuid",
        "call_id": "uuid",
        "status": "text",
        "sealed_at": "timestamptz",
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
        "row_version": "int8",
    },
}


def column_types(data: Mapping[str, Any]) -> dict[str, str]:
    return {str(c["name"]): str(c["type"]) for c in data.get("columns") or []}


def change_from_push(payload: Mapping[str, Any]) -> ChangeRecord | Rejection:
    """One ``postgres_changes`` payload (``{"ids": [...], "data": {...}}``) as a change."""
    data = payload.get("data") if isinstance(payload, Mapping) else None
    if not isinstance(data, Mapping):
        return Rejection(
            "malformed", "postgres_changes payload without data", "", {"payload": payload}
        )
    table = str(data.get("table", ""))
    if data.get("errors"):
        return Rejection(
            "malformed",
            f"Realtime reported errors for this change: {data.get('errors')}",
            table,
            {"data": dict(data)},
        )
    kind = data.get("type", "")
    # The realtime client validates ``type`` into a str enum, whose str() is not its value.
    op = str(getattr(kind, "value", kind))
    types = column_types(data)
    record = data.get("record")
    old = data.get("old_record")
    try:
        commit_ms = timestamp_ms(str(data["commit_timestamp"]))
        new_row = (
            canonical_row(dict(record), types) if op != "DELETE" and record is not None else None
        )
        old_row = canonical_row(dict(old), types) if op != "INSERT" and old is not None else None
    except (KeyError, TypeError, ValueError) as exc:
        return Rejection(
            "undecodable", f"cannot read the pushed change: {exc}", table, {"data": dict(data)}
        )
    return build_change(
        op=op,
        schema=str(data.get("schema", "")),
        table=table,
        record=new_row,
        old_record=old_row,
        commit_ms=commit_ms,
        source="realtime",
    )


def change_from_row(
    table: str, row: Mapping[str, Any], types: Mapping[str, str]
) -> ChangeRecord | Rejection:
    """A row read by the catch-up as a change (see the module docstring for what it claims)."""
    try:
        record = canonical_row(dict(row), dict(types))
        commit_ms = timestamp_ms(str(record["updated_at"]))
    except (KeyError, TypeError, ValueError) as exc:
        return Rejection(
            "undecodable", f"cannot read the caught-up row: {exc}", table, {"row": dict(row)}
        )
    untouched = (
        record.get("created_at") is not None and record.get("created_at") == record["updated_at"]
    )
    op = "INSERT" if untouched else "UPDATE"
    return build_change(
        op=op,
        schema="public",
        table=table,
        record=record,
        old_record=None if untouched else {"id": record.get("id")},
        commit_ms=commit_ms,
        source="realtime_catchup",
    )
