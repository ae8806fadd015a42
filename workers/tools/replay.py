"""Records of a project topic between two positions, with where they sit, for audit.

Each value is shown as stored (parsed JSON), with ``error`` set when it does not validate as the
topic's model, so an audit sees bad records instead of losing them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from schemas.changes import ChangeBatch, RejectedRecord
from schemas.updates import dashboard_update_adapter
from workers.settings import KafkaSettings
from workers.tools.errors import ToolError
from workers.tools.offsets import AtOffset, Position
from workers.tools.reading import ReadRecord, TopicReader
from workers.tools.render import iso_ms

TopicKind = Literal["supabase_changes", "dashboard_updates", "supabase_changes_rejected"]
TOPIC_KINDS: tuple[TopicKind, ...] = (
    "supabase_changes",
    "dashboard_updates",
    "supabase_changes_rejected",
)

VALIDATORS: dict[TopicKind, TypeAdapter[Any] | type[BaseModel]] = {
    "supabase_changes": ChangeBatch,
    "dashboard_updates": dashboard_update_adapter,
    "supabase_changes_rejected": RejectedRecord,
}


def topic_name(kind: TopicKind, settings: KafkaSettings) -> str:
    """The configured name of a topic (``PULSE_*_TOPIC`` may rename them)."""
    names: dict[TopicKind, str] = {
        "supabase_changes": settings.changes_topic,
        "dashboard_updates": settings.updates_topic,
        "supabase_changes_rejected": settings.rejected_topic,
    }
    return names[kind]


def validation_error(kind: TopicKind, raw: bytes) -> str | None:
    validator = VALIDATORS[kind]
    try:
        if isinstance(validator, TypeAdapter):
            validator.validate_json(raw)
        else:
            validator.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "value"
        return f"{where}: {first['msg']} ({exc.error_count()} error(s))"
    return None


@dataclass(frozen=True)
class ReplayedRecord:
    record: ReadRecord
    value: Any
    error: str | None

    def to_json(self) -> bytes:
        r = self.record
        body: dict[str, Any] = {
            "topic": r.topic,
            "partition": r.partition,
            "offset": r.offset,
            "timestamp": iso_ms(r.timestamp_ms),
            "timestamp_ms": r.timestamp_ms,
            "key": r.key.decode("utf-8", "replace") if r.key is not None else None,
            "value": self.value,
        }
        if self.error is not None:
            body["error"] = self.error
        return orjson.dumps(body)


def inspect(kind: TopicKind, record: ReadRecord) -> ReplayedRecord:
    if record.value is None:
        return ReplayedRecord(record, None, "empty value (tombstone)")
    try:
        value = orjson.loads(record.value)
    except orjson.JSONDecodeError as exc:
        return ReplayedRecord(record, record.value.decode("utf-8", "replace"), f"not JSON: {exc}")
    return ReplayedRecord(record, value, validation_error(kind, record.value))


async def chosen_partitions(
    reader: TopicReader,
    site_id: str | None,
    partition: int | None,
    start: Position,
    to: Position | None,
) -> list[int]:
    count = await reader.partition_count()
    if site_id is not None:
        site_partition = await reader.partition_of(site_id)
        if partition is not None and partition != site_partition:
            raise ToolError(
                f"site {site_id!r} is on partition {site_partition} of {reader.topic}, "
                f"not {partition}"
            )
        return [site_partition]
    if partition is not None:
        if not 0 <= partition < count:
            raise ToolError(
                f"{reader.topic} has partitions 0..{count - 1}; there is no {partition}"
            )
        return [partition]
    if count > 1 and (isinstance(start, AtOffset) or isinstance(to, AtOffset)):
        raise ToolError(
            f"offsets are per partition and {reader.topic} has {count}: "
            "give --site or --partition with offset:N"
        )
    return list(range(count))


async def replay(
    reader: TopicReader,
    kind: TopicKind,
    start: Position,
    to: Position | None = None,
    *,
    site_id: str | None = None,
    partition: int | None = None,
) -> AsyncIterator[ReplayedRecord]:
    """Records from ``start`` to ``to`` (inclusive; default: the end present now) of the chosen
    partitions; with ``site_id`` only that site's partition and key."""
    partitions = await chosen_partitions(reader, site_id, partition, start, to)
    bounds = await reader.bounds(partitions)
    windows = {p: await reader.window(bounds[p], start, to) for p in partitions}
    key = site_id.encode() if site_id is not None else None
    async for record in reader.read(windows, key):
        yield inspect(kind, record)
