"""Fast (orjson) encoding of the topic values; pydantic validates only where input is untrusted."""

from __future__ import annotations

from typing import Any

import orjson

from schemas.changes import ChangeBatch, ChangeRecord, RejectedRecord


def encode_change(change: ChangeRecord) -> dict[str, Any]:
    return change.model_dump(mode="json", by_alias=True)


def encode_batch(site_id: str, changes: list[dict[str, Any]]) -> bytes:
    """A ``ChangeBatch`` value from changes already in their JSON form (``encode_change``)."""
    return orjson.dumps({"site_id": site_id, "changes": changes})


def decode_batch(raw: bytes) -> ChangeBatch:
    return ChangeBatch.model_validate_json(raw)


def encode_rejected(rejected: RejectedRecord) -> bytes:
    return orjson.dumps(rejected.model_dump(mode="json"))
