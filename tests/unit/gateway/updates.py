"""Dashboard updates as the worker writes them, for the gateway's unit tests."""

from __future__ import annotations

from typing import Any

import orjson

SITE = "6f1c1d7e-3c55-4f55-9e4b-1d0c6ab0a001"
OTHER_SITE = "6f1c1d7e-3c55-4f55-9e4b-1d0c6ab0a002"
STAMP = "2026-12-01T10:00:00Z"


def kpi(seq: int, day: str = "2026-12-01", events: int = 1, site: str = SITE) -> dict[str, Any]:
    return {
        "type": "kpi_updated",
        "site_id": site,
        "seq": seq,
        "event_ids": [],
        "emitted_at": STAMP,
        "kpis": {"day": day, "events": events},
    }


def intent(
    seq: int, intent_id: str, *, kind: str = "intent_created", **fields: Any
) -> dict[str, Any]:
    body = {
        "id": intent_id,
        "status": "open",
        "created_at": STAMP,
        "updated_at": STAMP,
        **fields,
    }
    return {
        "type": kind,
        "site_id": SITE,
        "seq": seq,
        "event_ids": [],
        "emitted_at": STAMP,
        "intent": body,
    }


def call(seq: int, call_id: str, status: str, kind: str = "call_updated") -> dict[str, Any]:
    return {
        "type": kind,
        "site_id": SITE,
        "seq": seq,
        "event_ids": [],
        "emitted_at": STAMP,
        "call": {"id": call_id, "status": status, "created_at": STAMP, "updated_at": STAMP},
    }


def raw(update: dict[str, Any]) -> bytes:
    return orjson.dumps(update)
