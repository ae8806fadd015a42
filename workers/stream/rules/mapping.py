"""From an applied row change to the design's typed dashboard updates (the README's table).

| table    | INSERT            | UPDATE                                    | DELETE                       |
|----------|-------------------|-------------------------------------------|------------------------------|
| sessions | session_heartbeat | session_heartbeat                         | -                            |
| events   | event_created     | -                                         | -                            |
| calls    | call_created      | call_updated                              | call_updated (deleted=true)  |
| intents  | intent_created    | intent_updated (+ conversion_sealed once) | intent_updated (deleted=true)|
| sites    | -                 | -                                         | -                            |

Only versions that supersede the stored row state produce updates, and only verified events do.
``conversion_sealed`` follows the first version whose ``sealed_at`` is set. Each update is built
whole (``updates``) but for its ``seq`` and ``emitted_at``, which are set when the batch is
published; until then they hold ``UNSEQUENCED`` and ``NOT_EMITTED``.
"""

from __future__ import annotations

from typing import Any

from workers.stream.rules import updates

UNSEQUENCED = 0
NOT_EMITTED = ""


def typed_updates(
    table: str,
    op: str,
    row: dict[str, Any],
    *,
    was_sealed: bool,
    verified: bool,
    site_id: str,
    event_id: str,
    commit_timestamp: str,
) -> list[dict[str, Any]]:
    """The typed updates for one applied change of ``row``, with ``event_id`` as their source."""
    envelope = {
        "event_ids": [event_id],
        "commit_timestamp": commit_timestamp,
        "site_id": site_id,
        "emitted_at": NOT_EMITTED,
        "seq": UNSEQUENCED,
    }
    if table == "sessions":
        if op == "DELETE":
            return []
        return [
            updates.session_heartbeat(
                session_id=row["id"],
                started_at=row["started_at"],
                last_seen_at=row.get("last_seen_at") or row["started_at"],
                **envelope,
            )
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
        return [updates.event_created(event=event, **envelope)]
    if table == "calls":
        if op == "INSERT":
            return [updates.call_created(call=row, **envelope)]
        return [updates.call_updated(call=row, deleted=op == "DELETE", **envelope)]
    if table == "intents":
        if op == "INSERT":
            result = [updates.intent_created(intent=row, **envelope)]
        else:
            result = [updates.intent_updated(intent=row, deleted=op == "DELETE", **envelope)]
        if op != "DELETE" and row.get("sealed_at") is not None and not was_sealed:
            envelope["event_ids"] = [event_id]
            result.append(
                updates.conversion_sealed(
                    intent_id=row["id"], sealed_at=row["sealed_at"], **envelope
                )
            )
        return result
    return []
