"""KPI math per site and UTC day, idempotent by entity state (the counts of
``workers.kpis.definitions``, which the SQL reference ``workers.kpis.sql`` is built from too).

Every row (session, event, call, intent) *contributes* a unit to a (day, 5-minute bucket, kind)
cell for each count of its table: a session to ``sessions`` on its ``started_at`` day, a verified
event to ``events`` on its ``created_at`` day, a call or intent to its ``created_at`` day, a sealed
intent also to ``conversions`` on its ``sealed_at`` day. The stream keeps each row's latest
contribution; a new version of the row subtracts the old contribution and adds the new one, a
delete subtracts it. Counting by state instead of by change is what makes re-deliveries under
other IDs, replays and out-of-order arrivals harmless: applying a version twice, or an older
version after a newer one (see ``versions``), leaves the figures unchanged.

Timestamps arrive canonical (``2025-11-03T09:32:55.123000Z``, see ``workers.changes.values``), so
the day and bucket are read from fixed positions and canonical strings order like the times.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from workers.changes.values import canonical_timestamp
from workers.kpis.definitions import (
    BUCKET_MINUTES,
    COUNTS,
    NAMES,
    TABLES,
    conversion_rate,
    counts_of,
)

KINDS = NAMES
EVENTS, CALLS, INTENTS, CONVERSIONS = (
    KINDS.index(name) for name in ("events", "calls", "intents", "conversions")
)
# The one count whose newest timestamp of the day is reported (``last_event_at``).
((LATEST_KIND, LATEST_FIELD),) = (
    (KINDS.index(count.name), count.latest) for count in COUNTS if count.latest is not None
)
BUCKETS_PER_DAY = 24 * 60 // BUCKET_MINUTES

# How many of a day's newest verified event times are kept so that ``last_event_at`` can step back
# when the newest events are deleted. Exact unless more than this many of the day's newest events
# are deleted; then it reports the newest one it still knows of.
TOP_EVENT_TIMES = 64

# A contribution cell: (day "YYYY-MM-DD", bucket 0..287, kind index).
Cell = tuple[str, int, int]


class BadTimestamp(ValueError):
    pass


def canonical(value: Any) -> str:
    """The canonical spelling of a timestamp column value; cheap when it is canonical already."""
    if isinstance(value, str) and len(value) == 27 and value[10] == "T" and value[26] == "Z":
        return value
    if not isinstance(value, str):
        raise BadTimestamp(f"timestamp expected, got {type(value).__name__}")
    try:
        return canonical_timestamp(value)
    except ValueError as exc:
        raise BadTimestamp(f"unreadable timestamp {value!r}") from exc


# "HH:MM" -> its 5-minute bucket of the day: one slice and one lookup per timestamp, which is
# cheaper than parsing the hour and minute on every change.
BUCKET_OF_TIME = {
    f"{hour:02d}:{minute:02d}": (hour * 60 + minute) // BUCKET_MINUTES
    for hour in range(24)
    for minute in range(60)
}


def cell(timestamp: str, kind: int) -> Cell:
    try:
        return (timestamp[:10], BUCKET_OF_TIME[timestamp[11:16]], kind)
    except KeyError:
        raise BadTimestamp(f"unreadable time of day in {timestamp!r}") from None


class Contribution(NamedTuple):
    cells: tuple[Cell, ...] = ()
    event_at: str | None = None  # the timestamp of the LATEST_KIND cell, for last_event_at

    def to_json(self) -> tuple[tuple[Cell, ...], str | None]:
        return (self.cells, self.event_at)

    @classmethod
    def from_json(cls, raw: list[Any]) -> Contribution:
        return cls(tuple(map(tuple, raw[0])), raw[1])


NOTHING = Contribution()


# Per table, its counts as (kind index, column, may be null, verified rows only, newest kept).
_TABLE_COUNTS = {
    table: tuple(
        (KINDS.index(c.name), c.at, c.optional, c.verified_only, c.latest is not None)
        for c in counts_of(table)
    )
    for table in TABLES
}


def contribution(table: str, row: dict[str, Any], verified: bool = True) -> Contribution:
    """What one live row adds to the KPIs; ``verified`` matters for counts of verified rows only."""
    cells: list[Cell] = []
    latest = None
    for kind, column, optional, verified_only, keeps_latest in _TABLE_COUNTS.get(table, ()):
        if verified_only and not verified:
            continue
        value = row.get(column) if optional else row[column]
        if value is None and optional:
            continue
        moment = canonical(value)
        cells.append(cell(moment, kind))
        if keeps_latest:
            latest = moment
    return Contribution(tuple(cells), latest) if cells else NOTHING


@dataclass
class DayAggregate:
    """One site's figures for one UTC day: totals, 5-minute buckets and newest event times."""

    totals: list[int] = field(default_factory=lambda: [0] * len(KINDS))
    # Dense: cell (bucket, kind) at bucket * len(KINDS) + kind. A flat list of ints is what
    # orjson reads and writes fastest, and an aggregate is rewritten once per batch.
    buckets: list[int] = field(default_factory=lambda: [0] * (BUCKETS_PER_DAY * len(KINDS)))
    event_times: list[str] = field(default_factory=list)  # ascending, at most TOP_EVENT_TIMES

    def add(self, bucket: int, kind: int, sign: int) -> None:
        self.totals[kind] += sign
        self.buckets[bucket * len(KINDS) + kind] += sign

    def add_event_time(self, moment: str) -> None:
        times = self.event_times
        if len(times) >= TOP_EVENT_TIMES and moment <= times[0]:
            return
        bisect.insort(times, moment)
        if len(times) > TOP_EVENT_TIMES:
            del times[0]

    def remove_event_time(self, moment: str) -> None:
        index = bisect.bisect_left(self.event_times, moment)
        if index < len(self.event_times) and self.event_times[index] == moment:
            del self.event_times[index]

    @property
    def last_event_at(self) -> str | None:
        if not self.totals[LATEST_KIND] or not self.event_times:
            return None
        return self.event_times[-1]

    def is_empty(self) -> bool:
        return not any(self.totals)

    def snapshot(self, day: str) -> dict[str, Any]:
        """The day's ``KpiSnapshot`` as JSON."""
        totals = self.totals
        return {
            "day": day,
            **dict(zip(KINDS, totals, strict=True)),
            "conversion_rate": conversion_rate(totals[CONVERSIONS], totals[INTENTS]),
            LATEST_FIELD: self.last_event_at,
        }

    def timeline(self, day: str) -> list[dict[str, Any]]:
        """Non-empty 5-minute buckets of the day, as ``TimelineBucket`` JSON, in time order."""
        result = []
        width = len(KINDS)
        for bucket in range(BUCKETS_PER_DAY):
            counts = self.buckets[bucket * width : (bucket + 1) * width]
            if not any(counts):
                continue
            hour, minute = divmod(bucket * BUCKET_MINUTES, 60)
            entry: dict[str, Any] = {"start": f"{day}T{hour:02d}:{minute:02d}:00Z"}
            entry.update(zip(KINDS, counts, strict=True))
            result.append(entry)
        return result

    def to_json(self) -> dict[str, Any]:
        return {
            "t": self.totals,
            "b": self.buckets,
            "e": self.event_times,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> DayAggregate:
        return cls(raw["t"], raw["b"], raw["e"])


def apply_contribution(
    days: dict[str, DayAggregate], contributed: Contribution, sign: int, load: Any
) -> set[str]:
    """Add (``sign`` 1) or remove (-1) a contribution; returns the days it touched.

    ``load(day)`` returns the day's aggregate when ``days`` does not hold it yet.
    """
    touched: set[str] = set()
    for day, bucket, kind in contributed.cells:
        aggregate = days.get(day)
        if aggregate is None:
            aggregate = days[day] = load(day)
        aggregate.add(bucket, kind, sign)
        if kind == LATEST_KIND and contributed.event_at is not None:
            if sign > 0:
                aggregate.add_event_time(contributed.event_at)
            else:
                aggregate.remove_event_time(contributed.event_at)
        touched.add(day)
    return touched
