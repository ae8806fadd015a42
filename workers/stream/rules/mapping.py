"""From an applied row change to the design's typed dashboard updates (the README's table).

| table    | INSERT            | UPDATE                                    | DELETE                       |
|----------|-------------------|-------------------------------------------|------------------------------|
| sessions | session_heartbeat | session_heartbeat                         | -                            |
| events   | event_created     | -                                         | -                            |
| calls    | call_created      | call_updated                              | call_updated (deleted=true)  |
| intents  | intent_created    | intent_updated (+ conversion_sealed once) | intent_updated (deleted=true)|
| sites    | -                 | -                                         | -                            |

Only versions that supersede the stored row state produce updates, and only verified events do.
``conversion_sealed`` follows the first version whose ``sealed_at`` is set. The ``seq``,
``emitted_at`` and envelope fields are added when the update is published.
"""

from __future__ import annotations

from typing import Any


def typed_updates(
    table: str, op: str, row: dict[str, Any], *, was_sealed: bool, verified: bool
) -> list[dict[str, Any]]:
    """The typed updates (``type`` plus payload) for one applied change of ``row``."""
    if table == "sessions":
        if op == "DELETE":
            return []
        return [
            {
                "type": "session_heartbeat",
                "session_id": row["id"],
                "started_at": row["started_at"],
                "last_seen_at": row.get("last_seen_at") or row["started_at"],
            }
        ]
    if table == "events":
        if op != "INSERT" or not verified:
            return []
        event = {
            "id": row.get("id"),
            "session_id": row.get("session_id"),
            "name": row.get("name"),
            "created_at": row.get("created_at"),
        }
        return [{"type": "event_created", "event": event}]
    if table == "calls":
        if op == "INSERT":
            return [{"type": "call_created", "call": row}]
        return [{"type": "call_updated", "call": row, "deleted": op == "DELETE"}]
    if table == "intents":
        if op == "INSERT":
            result: list[dict[str, Any]] = [{"type": "intent_created", "intent": row}]
        else:
            result = [{"type": "intent_updated", "intent": row, "deleted": op == "DELETE"}]
        if op != "DELETE" and row.get("sealed_at") is not None and not was_sealed:
            result.append(
                {"type": "conversion_sealed", "intent_id": row["id"], "sealed_at": row["sealed_at"]}
            )
        return result
    return []
