"""KPI math per site and UTC day, idempotent by entity state (the definitions of ``workers.kpis.sql``).

Every row (session, event, call, intent) *contributes* a few unit counts to (day, 5-minute bucket,
kind) cells: a session to ``sessions`` on its ``started_at`` day, a verified event to ``events`` on
its ``created_at`` day, a call or intent to its ``created_at`` day, a sealed intent also to
``conversions`` on its ``sealed_at`` day. The stream keeps each row's latest contribution; a new
version of the row subtracts the old contribution and adds the new one, a delete subtracts it.
Counting by state instead of by change is what makes re-deliveries under other IDs, replays and
out-of-order arrivals harmless: applying a version twice, or an older version after a newer one
(see ``versions``), leaves the figures unchanged.

Timestamps arrive canonical (``2025-11-03T09:32:55.123000Z``, see ``workers.changes.values``), so
the day and bucket are read from fixed positions and canonical strings order like the times.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from workers.changes.values import canonical_timestamp
from workers.kpis.definitions import conversion_rate

KINDS: tuple[str, ...] = ("sessions", "events", "calls", "intents", "conversions")
SESSIONS, EVENTS, CALLS, INTENTS, CONVERSIONS = range(5)
BUCKET_MINUTES = 5
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
    event_at: str | None = None  # a verified event's created_at, for last_event_at

    def to_json(self) -> tuple[tuple[Cell, ...], str | None]:
        return (self.cells, self.event_at)

    @classmethod
    def from_json(cls, raw: list[Any]) -> Contribution:
        return cls(tuple(map(tuple, raw[0])), raw[1])


NOTHING = Contribution()


def contribution(table: str, row: dict[str, Any], verified: bool = True) -> Contribution:
    """What one live row adds to the KPIs; ``verified`` matters for ``events`` only."""
    if table == "sessions":
        return Contribution((cell(canonical(row["started_at"]), SESSIONS),))
    if table == "events":
        if not verified:
            return NOTHING
        created = canonical(row["created_at"])
        return Contribution((cell(created, EVENTS),), created)
    if table == "calls":
        return Contribution((cell(canonical(row["created_at"]), CALLS),))
    if table == "intents":
        cells = [cell(canonical(row["created_at"]), INTENTS)]
        if row.get("sealed_at") is not None:
            cells.append(cell(canonical(row["sealed_at"]), CONVERSIONS))
        return Contribution(tuple(cells))
    return NOTHING


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
        if not self.totals[EVENTS] or not self.event_times:
            return None
        return self.event_times[-1]

    def is_empty(self) -> bool:
        return not any(self.totals)

    def snapshot(self, day: str) -> dict[str, Any]:
        """The day's ``KpiSnapshot`` as JSON."""
        sessions, events, calls, intents, conversions = self.totals
        return {
            "day": day,
            "sessions": sessions,
            "events": events,
            "calls": calls,
            "intents": intents,
            "conversions": conversions,
            "conversion_rate": conversion_rate(conversions, intents),
            "last_event_at": self.last_event_at,
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
        if kind == EVENTS and contributed.event_at is not None:
            if sign > 0:
                aggregate.add_event_time(contributed.event_at)
            else:
                aggregate.remove_event_time(contributed.event_at)
        touched.add(day)
    return touched
