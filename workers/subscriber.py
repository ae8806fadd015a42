"""Typed subscriber API: one site's ``dashboard_updates`` as an async iterator of models.

    async with SiteSubscription(site_id, bootstrap_servers="127.0.0.1:9092",
                                from_offset=saved) as updates:
        async for update in updates:
            handle(update)                 # a DashboardUpdate model (KpiUpdated, IntentCreated...)
            saved = updates.next_offset    # store it; pass it back as from_offset to resume

It reads only the site's partition, outside any consumer group, and commits nothing: the caller
owns its position. Delivery is at-least-once upstream, so an update may come twice; its per-site
``seq`` tells a repeat apart. A record that is not a valid update raises ``InvalidUpdate`` with
its offset; ``next_offset`` is already past it, so iterating again carries on.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from types import TracebackType
from typing import Literal

from schemas.updates import DashboardUpdate
from workers.tools.errors import (
    BrokerUnreachable,
    OffsetOutOfRange,
    ReadStalled,
    ToolError,
    TopicMissing,
)
from workers.tools.offsets import AtOffset, AtTime, Beginning, End, Position
from workers.tools.reading import QUIET_SECONDS, TopicReader
from workers.tools.tail import CaughtUp, SiteRecord, site_records

__all__ = [
    "BrokerUnreachable",
    "InvalidUpdate",
    "OffsetOutOfRange",
    "ReadStalled",
    "SiteSubscription",
    "ToolError",
    "TopicMissing",
]

StartFrom = int | datetime | Literal["beginning", "end"]


class InvalidUpdate(Exception):
    def __init__(self, partition: int, offset: int, reason: str) -> None:
        super().__init__(f"partition {partition} offset {offset} is not a valid update: {reason}")
        self.partition = partition
        self.offset = offset
        self.reason = reason


def start_position(start: StartFrom) -> Position:
    if isinstance(start, datetime):
        return AtTime(start)
    if start == "beginning":
        return Beginning()
    if start == "end":
        return End()
    return AtOffset(start)


class SiteSubscription:
    """Updates of ``site_id`` from ``from_offset`` (an offset of the site's partition, a time,
    ``"beginning"`` or ``"end"``), following new ones until the context exits."""

    def __init__(
        self,
        site_id: str,
        *,
        bootstrap_servers: str,
        topic: str = "dashboard_updates",
        from_offset: StartFrom = "beginning",
        quiet_seconds: float = QUIET_SECONDS,
    ) -> None:
        self.site_id = site_id
        self._reader = TopicReader(bootstrap_servers, topic, quiet_seconds=quiet_seconds)
        self._start = start_position(from_offset)
        self._records: AsyncGenerator[SiteRecord | CaughtUp, None] | None = None
        self.partition: int | None = None
        self.next_offset: int | None = from_offset if isinstance(from_offset, int) else None
        self.caught_up = False

    async def __aenter__(self) -> SiteSubscription:
        await self._reader.__aenter__()
        try:
            # A missing topic fails here, at `async with`, not at the first update.
            self.partition = await self._reader.partition_of(self.site_id)
        except BaseException:
            await self._reader.__aexit__(None, None, None)
            raise
        self._records = site_records(self._reader, self.site_id, self._start, follow=True)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._records is not None:
            await self._records.aclose()
        await self._reader.__aexit__(exc_type, exc, tb)

    def __aiter__(self) -> SiteSubscription:
        return self

    async def __anext__(self) -> DashboardUpdate:
        if self._records is None:
            raise RuntimeError("use the subscription inside `async with`")
        while True:
            item = await anext(self._records)
            if isinstance(item, CaughtUp):
                self.caught_up = True
                self.partition = item.partition
                self.next_offset = max(self.next_offset or 0, item.offset)
                continue
            self.partition = item.partition
            self.next_offset = item.offset + 1
            if item.update is None:
                raise InvalidUpdate(item.partition, item.offset, item.error or "undecodable")
            return item.update
