"""Event IDs that both sources compute alike for one committed change.

The design's ``table:id:commit_timestamp`` collides when one transaction changes a row twice
(both changes share the commit time). The ID keeps that readable prefix, with the commit time
normalised to UTC milliseconds, and appends a digest of the change's content: the operation, the
new row, and the old row's primary key. Only the key of the old row enters the digest because
Realtime sends just the key as ``old_record`` on tables with row-level security, whereas the WAL
has the full row. An LSN would disambiguate too, but Realtime never exposes one.

Two changes with the same operation, the same new row, the same old key and the same commit time
leave the row in the same state. They are not always one change, though: a transaction that sets
a row back to an earlier state (A, B, A) gives the first and the last A one ID, unless the row
has the schema's ``row_version`` column, whose new number on every write makes the two A rows
differ. The stream worker tells such WAL changes apart by their LSN
(``workers.stream.rules.dedup.admitted``).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

PRIMARY_KEY = "id"


def row_key(op: str, record: dict[str, Any] | None, old_record: dict[str, Any] | None) -> str:
    row = record if op != "DELETE" and record is not None else old_record
    if not row or row.get(PRIMARY_KEY) is None:
        return ""
    return str(row[PRIMARY_KEY])


def content_digest(
    op: str, record: dict[str, Any] | None, old_record: dict[str, Any] | None
) -> str:
    old_key = None if old_record is None else old_record.get(PRIMARY_KEY)
    body = orjson.dumps(
        [op, record if op != "DELETE" else None, old_key], option=orjson.OPT_SORT_KEYS
    )
    return hashlib.blake2b(body, digest_size=8).hexdigest()


def event_id(
    table: str,
    op: str,
    record: dict[str, Any] | None,
    old_record: dict[str, Any] | None,
    commit_ms: int,
) -> str:
    """``table:id:commit_ms:digest``; records must already be canonical (see ``values``)."""
    key = row_key(op, record, old_record)
    return f"{table}:{key}:{commit_ms}:{content_digest(op, record, old_record)}"
