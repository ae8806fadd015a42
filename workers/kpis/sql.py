"""The KPIs recomputed from Postgres with SQL: the source of truth the stream must equal.

The SQL is generated from ``definitions.COUNTS``, per site and UTC day. Events count only when
verified (their session exists and belongs to the site the row claims); ``last_event_at`` is the
newest verified event's ``created_at`` on the day; ``conversion_rate`` is conversions / intents
(0 when there are no intents), 4 decimals.

A row whose KPI timestamp (``started_at``, ``created_at``, a set ``sealed_at``) is outside what
Python's ``datetime`` holds (``infinity``, years after 9999, BC) is quarantined by the stream as
``malformed`` and never counted; the SQL excludes the same rows and counts them apart
(``quarantined_rows``), so the two sides stay equal.
"""

from __future__ import annotations

from datetime import UTC, date
from typing import Any

import psycopg

from schemas.updates import KpiSnapshot
from workers.kpis.definitions import COUNTS, TABLES, Count, conversion_rate, counts_of

# Python's datetime range, in UTC: the ingest writes every timestamp as UTC, and the stream
# refuses one it cannot parse.
HOLDABLE_FROM = "0001-01-01 00:00:00+00"
HOLDABLE_TO = "9999-12-31 23:59:59.999999+00"


def holdable(column: str) -> str:
    """SQL that is true when ``column`` (a non-null timestamptz) fits Python's datetime."""
    return f"{column} BETWEEN '{HOLDABLE_FROM}'::timestamptz AND '{HOLDABLE_TO}'::timestamptz"


def _holdable_or_null(column: str) -> str:
    return f"({column} IS NULL OR {holdable(column)})"


def taken_in(table: str, alias: str = "") -> str:
    """SQL that is true for the rows of ``table`` the stream takes in: every KPI timestamp of the
    table fits Python's datetime (an optional one may also be null)."""
    prefix = f"{alias}." if alias else ""
    return " AND ".join(
        _holdable_or_null(prefix + count.at) if count.optional else holdable(prefix + count.at)
        for count in counts_of(table)
    )


# Per table of the audit's ledger, the rows the stream takes in; it quarantines the others for a
# timestamp Python cannot hold, so they have no published state to compare.
HOLDABLE_LEDGER_ROWS = {table: taken_in(table) for table in ("calls", "intents")}


def _rows(table: str) -> str:
    """The FROM clause of a table's rows, as ``r``: joined to their session where only verified
    rows count."""
    if any(count.verified_only for count in counts_of(table)):
        return f"{table} r JOIN sessions s ON s.id = r.session_id AND s.site_id = r.site_id"
    return f"{table} r"


def _count_select(count: Count) -> str:
    latest = f"max(r.{count.at}) AT TIME ZONE 'UTC'" if count.latest else "NULL::timestamp"
    where = taken_in(count.table, "r")
    if count.optional:
        where = f"r.{count.at} IS NOT NULL AND {where}"
    return (
        f"SELECT r.site_id::text AS site_id, (r.{count.at} AT TIME ZONE 'UTC')::date AS day,\n"
        f"           '{count.name}' AS kind, count(*) AS n, {latest} AS last_at\n"
        f"    FROM {_rows(count.table)} WHERE {where}\n"
        "    GROUP BY 1, 2"
    )


def _quarantined_select(table: str) -> str:
    return (
        f"SELECT '{table}' AS kind, r.site_id FROM {_rows(table)}\n"
        f"    WHERE NOT ({taken_in(table, 'r')})"
    )


_LATEST_FIELDS = {count.name: count.latest for count in COUNTS if count.latest}

_UNION = "\n    UNION ALL\n    "

KPI_SQL = f"""
WITH counts AS (
    {_UNION.join(_count_select(count) for count in COUNTS)}
)
SELECT site_id, day, kind, n, last_at FROM counts
WHERE (%(site)s::text IS NULL OR site_id = %(site)s::text)
  AND (%(day)s::date IS NULL OR day = %(day)s::date)
"""

# The rows KPI_SQL leaves out for their timestamps, per table. Forged events are not among them:
# the stream rejects those as site_mismatch before it reads their time.
QUARANTINED_SQL = f"""
SELECT kind, count(*) FROM (
    {_UNION.join(_quarantined_select(table) for table in TABLES)}
) AS odd
WHERE %(site)s::text IS NULL OR site_id::text = %(site)s::text
GROUP BY kind
"""


def recompute_kpis(
    conn: psycopg.Connection[Any], site_id: str | None = None, day: date | None = None
) -> dict[tuple[str, date], KpiSnapshot]:
    """KPIs of every (site, day) that has any activity, optionally narrowed to one site or day."""
    figures: dict[tuple[str, date], dict[str, Any]] = {}
    for site, row_day, kind, count, last_at in conn.execute(
        KPI_SQL, {"site": site_id, "day": day}
    ).fetchall():
        entry = figures.setdefault((site, row_day), {"day": row_day})
        entry[kind] = int(count)
        latest = _LATEST_FIELDS.get(kind)
        if latest is not None:
            # Read as UTC wall time: a timestamptz would be converted to the session's zone,
            # where year 1 can fall outside Python's range.
            entry[latest] = last_at.replace(tzinfo=UTC)
    result: dict[tuple[str, date], KpiSnapshot] = {}
    for key, entry in figures.items():
        entry["conversion_rate"] = conversion_rate(
            entry.get("conversions", 0), entry.get("intents", 0)
        )
        result[key] = KpiSnapshot.model_validate(entry)
    return result


def quarantined_rows(conn: psycopg.Connection[Any], site_id: str | None = None) -> dict[str, int]:
    """Rows per table that the stream quarantines for a timestamp Python cannot hold.

    They have no day Python can name, so they are counted per site only, whatever day is audited.
    """
    return {
        str(kind): int(count)
        for kind, count in conn.execute(QUARANTINED_SQL, {"site": site_id}).fetchall()
    }
