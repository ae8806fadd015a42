"""One site's ``dashboard_updates``: only the partition that holds the site, only its key.

The site's partition is the one the producers' default partitioner picks for its key, so a tail
fetches nothing of the sites hashed elsewhere, and drops the other keys sharing the partition.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from pydantic import ValidationError

from schemas.updates import DashboardUpdate, dashboard_update_adapter
from workers.tools.errors import UnknownSite
from workers.tools.offsets import Beginning, PartitionWindow, Position
from workers.tools.reading import PartitionBounds, ReadRecord, TopicReader


@dataclass(frozen=True)
class SiteRecord:
    """One record of the site: ``update`` when it decodes, else ``error`` says why not."""

    partition: int
    offset: int
    timestamp_ms: int
    update: DashboardUpdate | None
    error: str | None = None
    raw: bytes | None = None


@dataclass(frozen=True)
class CaughtUp:
    """Marks the point where a following read has passed everything present when it started."""

    partition: int
    offset: int
    records: int


def decode_site_record(record: ReadRecord) -> SiteRecord:
    if record.value is None:
        return SiteRecord(
            record.partition, record.offset, record.timestamp_ms, None, "empty value (tombstone)"
        )
    try:
        update = dashboard_update_adapter.validate_json(record.value)
    except ValidationError as exc:
        summary = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors()[:3]
        )
        return SiteRecord(
            record.partition, record.offset, record.timestamp_ms, None, summary, record.value
        )
    return SiteRecord(record.partition, record.offset, record.timestamp_ms, update)


async def site_records(
    reader: TopicReader, site_id: str, start: Position, *, follow: bool
) -> AsyncGenerator[SiteRecord | CaughtUp, None]:
    """The site's records from ``start``; with ``follow``, a ``CaughtUp`` once past the records
    present at the start, then new ones forever.

    A full read (from the beginning, not following) that finds no record of the site raises
    ``UnknownSite``: the partition holds every update the site ever had.
    """
    partition = await reader.partition_of(site_id)
    bounds: PartitionBounds = (await reader.bounds([partition]))[partition]
    key = site_id.encode()
    window = await reader.window(bounds, start)
    count = 0
    async for record in reader.read({partition: window}, key):
        count += 1
        yield decode_site_record(record)
    if count == 0 and isinstance(start, Beginning) and not follow:
        raise UnknownSite(
            f"no updates for site {site_id!r} on {reader.topic} ({bounds.describe()}); "
            "check the site id"
        )
    if not follow:
        return
    resume_at = max(window.start, bounds.end)
    yield CaughtUp(partition, resume_at, count)
    # A --from time still in the future keeps skipping older-stamped records after catching up.
    resume = PartitionWindow(start=resume_at, from_ms=None if window.started else window.from_ms)
    async for record in reader.read({partition: resume}, key):
        yield decode_site_record(record)
