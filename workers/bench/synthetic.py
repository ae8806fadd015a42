"""Synthetic ``supabase_changes`` input with distinct event IDs, for the memory measurement.

Each site gets one session first, then ``events`` inserts with fresh IDs, all verified against
that session, so every change is distinct and the dedup table grows by one ID per change.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from workers.changes.keying import KeyedChange, key_change
from workers.changes.values import canonical_timestamp
from workers.ingest.publisher import MAX_CHANGES_PER_MESSAGE


def synthetic_batches(
    changes: int, sites: int, start_ms: int | None = None
) -> list[tuple[bytes, bytes]]:
    """``(key, value)`` pairs of ``ChangeBatch`` messages holding ``changes`` distinct changes."""
    now_ms = start_ms if start_ms is not None else int(time.time() * 1000)
    site_ids = [str(uuid.uuid4()) for _ in range(sites)]
    sessions = {site: str(uuid.uuid4()) for site in site_ids}
    per_site: dict[str, list[dict[str, object]]] = {site: [] for site in site_ids}
    stamp = canonical_timestamp(
        time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now_ms / 1000))
    )
    for site in site_ids:
        session = {
            "id": sessions[site],
            "site_id": site,
            "started_at": stamp,
            "last_seen_at": stamp,
            "updated_at": stamp,
        }
        per_site[site].append(_body("sessions", session, now_ms))
    for index in range(changes - sites):
        site = site_ids[index % sites]
        event = {
            "id": str(uuid.uuid4()),
            "session_id": sessions[site],
            "site_id": site,
            "name": "page_view",
            "created_at": stamp,
            "updated_at": stamp,
        }
        per_site[site].append(_body("events", event, now_ms + index // 1000))
    messages = []
    for site, bodies in per_site.items():
        for first in range(0, len(bodies), MAX_CHANGES_PER_MESSAGE):
            chunk = bodies[first : first + MAX_CHANGES_PER_MESSAGE]
            messages.append((site.encode(), orjson.dumps({"site_id": site, "changes": chunk})))
    return messages


def _body(table: str, record: dict[str, Any], commit_ms: int) -> dict[str, Any]:
    keyed = key_change(
        op="INSERT",
        schema="public",
        table=table,
        record=record,
        old_record=None,
        commit_ms=commit_ms,
        source="wal",
    )
    assert isinstance(keyed, KeyedChange)
    return keyed.body
