"""What each KPI counts, defined once: the SQL reference (``sql``) and the stream worker's KPI rule
(``workers.stream.rules.kpis``) are both built from ``COUNTS``, so neither can count a KPI the
other does not.

Per site and UTC day, a count is the rows of one table, in their latest state (deleted rows do not
count), whose timestamp column falls on the day; the stream also places each in its 5-minute
bucket. ``conversion_rate`` and ``last_event_at`` are derived from the counts.

A row whose KPI timestamps do not all fit Python's ``datetime`` is quarantined by the stream, so
no count of its table takes it; the SQL leaves out the same rows (``sql.holdable``).

Pure: the stream's rules read it, so it must not import a database driver.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Count:
    """One KPI count; ``name`` is its field in ``KpiSnapshot`` and ``TimelineBucket``."""

    name: str
    table: str
    # The column whose UTC day and 5-minute bucket the row counts on.
    at: str
    # The column may be null, and a row with null counts nowhere (an intent not sealed yet).
    optional: bool = False
    # Only rows whose session exists and belongs to the site the row claims: forged rows never
    # count.
    verified_only: bool = False
    # The snapshot field that holds the newest ``at`` of the rows counted on the day.
    latest: str | None = None


COUNTS: tuple[Count, ...] = (
    Count("sessions", "sessions", "started_at"),
    Count("events", "events", "created_at", verified_only=True, latest="last_event_at"),
    Count("calls", "calls", "created_at"),
    Count("intents", "intents", "created_at"),
    Count("conversions", "intents", "sealed_at", optional=True),
)

NAMES: tuple[str, ...] = tuple(count.name for count in COUNTS)

# The tables whose rows count, in the order of their first count.
TABLES: tuple[str, ...] = tuple(dict.fromkeys(count.table for count in COUNTS))

BUCKET_MINUTES = 5


def counts_of(table: str) -> tuple[Count, ...]:
    return tuple(count for count in COUNTS if count.table == table)


def conversion_rate(conversions: int, intents: int) -> float:
    """Conversions per intent of the day, to 4 decimals; 0 when there are no intents."""
    return round(conversions / intents, 4) if intents else 0.0
