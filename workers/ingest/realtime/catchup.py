"""Catch-up reads through PostgREST: every row changed since each table's high-water mark.

Realtime never replays, so after every (re)subscribe, and periodically for gaps no status shows
(a poller restart), the source re-reads rows whose ``updated_at`` is at or past the mark minus a
look-back window. ``updated_at`` is the writing transaction's start time, so a transaction that
commits after a later-started one lands below the mark; the window covers transactions shorter
than it. Pages are ordered by ``(updated_at, id)`` and continue from the last row, so any number
of rows sharing one ``updated_at`` are read exactly once per run. What this restores is the
latest state of every changed row, not every intermediate version, and not deletes.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import orjson

from workers.changes.values import canonical_timestamp, parse_timestamp


class RestClient(Protocol):
    def from_(self, table: str) -> Any: ...


def lowered(mark: str, lookback_s: float) -> str:
    """``mark`` minus the look-back, spelled as PostgREST takes it in a filter."""
    return (parse_timestamp(mark) - timedelta(seconds=lookback_s)).isoformat()


def fingerprint(record: dict[str, Any]) -> bytes:
    return hashlib.blake2b(
        orjson.dumps(record, option=orjson.OPT_SORT_KEYS), digest_size=8
    ).digest()


@dataclass
class SeenVersions:
    """A fingerprint of each row's last published state (bounded, least recently used out).

    The whole canonical row is compared, not just ``updated_at``: two updates of a row in one
    transaction share ``updated_at``, and only the last of them is the state to keep.
    """

    capacity: int
    _versions: OrderedDict[tuple[str, str], bytes] = field(default_factory=OrderedDict)

    def remember(self, table: str, row_id: str, record: dict[str, Any]) -> None:
        if self.capacity <= 0:
            return
        key = (table, row_id)
        self._versions[key] = fingerprint(record)
        self._versions.move_to_end(key)
        while len(self._versions) > self.capacity:
            self._versions.popitem(last=False)

    def already_published(self, table: str, row_id: str, record: dict[str, Any]) -> bool:
        return self._versions.get((table, row_id)) == fingerprint(record)


@dataclass
class HighWaterMarks:
    """Per table: the newest ``updated_at`` (canonical) a finished, acknowledged catch-up read."""

    marks: dict[str, str | None] = field(default_factory=dict)

    def start_of(self, table: str) -> str | None:
        return self.marks.get(table)

    def advance(self, found: dict[str, str]) -> None:
        for table, newest in found.items():
            current = self.marks.get(table)
            if current is None or newest > current:
                self.marks[table] = newest


@dataclass
class CatchUpReader:
    rest: RestClient
    page_size: int
    lookback_s: float

    async def pages(self, table: str, mark: str | None) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of rows with ``updated_at >= mark - lookback`` (all rows without a mark)."""
        cursor_ts = None if mark is None else lowered(mark, self.lookback_s)
        cursor_id: str | None = None
        while True:
            if cursor_ts is not None and cursor_id is not None:
                ties = await self._execute(
                    self.rest.from_(table)
                    .select("*")
                    .eq("updated_at", cursor_ts)
                    .gt("id", cursor_id)
                    .order("id")
                )
                if ties:
                    yield ties
                if len(ties) == self.page_size:
                    cursor_id = str(ties[-1]["id"])
                    continue
            query = self.rest.from_(table).select("*")
            if cursor_ts is not None:
                query = (
                    query.gt("updated_at", cursor_ts)
                    if cursor_id is not None
                    else query.gte("updated_at", cursor_ts)
                )
            rows = await self._execute(query.order("updated_at").order("id"))
            if rows:
                yield rows
            if len(rows) < self.page_size:
                return
            cursor_ts, cursor_id = str(rows[-1]["updated_at"]), str(rows[-1]["id"])

    async def newest(self, table: str) -> str | None:
        rows = await self._execute(
            self.rest.from_(table).select("updated_at").order("updated_at", desc=True), limit=1
        )
        return canonical_timestamp(str(rows[0]["updated_at"])) if rows else None

    async def _execute(self, query: Any, limit: int | None = None) -> list[dict[str, Any]]:
        response = await query.limit(limit or self.page_size).execute()
        data: list[dict[str, Any]] = response.data
        return data
