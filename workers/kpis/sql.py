"""The KPIs recomputed from Postgres with SQL: the source of truth the stream must equal.

Per site and UTC day:
- sessions: sessions whose ``started_at`` falls on the day;
- events: verified events (their session exists and belongs to the site the row claims) created
  on the day; forged rows never count;
- calls, intents: rows created on the day, in their latest state (deleted rows do not count);
- conversions: intents whose ``sealed_at`` falls on the day;
- conversion_rate: conversions / intents of the day (0 when there are no intents), 4 decimals;
- last_event_at: the newest verified event's ``created_at`` on the day.

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
from workers.kpis.definitions import conversion_rate

# Python's datetime range, in UTC: the ingest writes every timestamp as UTC, and the stream
# refuses one it cannot parse.
HOLDABLE_FROM = "0001-01-01 00:00:00+00"
HOLDABLE_TO = "9999-12-31 23:59:59.999999+00"


def holdable(column: str) -> str:
    """SQL that is true when ``column`` (a non-null timestamptz) fits Python's datetime."""
    return f"{column} BETWEEN '{HOLDABLE_FROM}'::timestamptz AND '{HOLDABLE_TO}'::timestamptz"


def _holdable_or_null(column: str) -> str:
    return f"({column} IS NULL OR {holdable(column)})"


# Per table of the audit's ledger, the rows the stream takes in; it quarantines the others for a
# timestamp Python cannot hold, so they have no published state to compare.
HOLDABLE_LEDGER_ROWS = {
    "calls": holdable("created_at"),
    "intents": f"{holdable('created_at')} AND {_holdable_or_null('sealed_at')}",
}

_VERIFIED_EVENTS = "events e JOIN sessions s ON s.id = e.session_id AND s.site_id = e.site_id"

KPI_SQL = f"""
WITH counts AS (
    SELECT site_id::text AS site_id, (started_at AT TIME ZONE 'UTC')::date AS day,
           'sessions' AS kind, count(*) AS n, NULL::timestamp AS last_at
    FROM sessions WHERE {holdable("started_at")} GROUP BY 1, 2
    UNION ALL
    SELECT e.site_id::text, (e.created_at AT TIME ZONE 'UTC')::date,
           'events', count(*), max(e.created_at) AT TIME ZONE 'UTC'
    FROM {_VERIFIED_EVENTS} WHERE {holdable("e.created_at")}
    GROUP BY 1, 2
    UNION ALL
    SELECT site_id::text, (created_at AT TIME ZONE 'UTC')::date, 'calls', count(*), NULL
    FROM calls WHERE {holdable("created_at")} GROUP BY 1, 2
    UNION ALL
    SELECT site_id::text, (created_at AT TIME ZONE 'UTC')::date, 'intents', count(*), NULL
    FROM intents WHERE {holdable("created_at")} AND {_holdable_or_null("sealed_at")}
    GROUP BY 1, 2
    UNION ALL
    SELECT site_id::text, (sealed_at AT TIME ZONE 'UTC')::date, 'conversions', count(*), NULL
    FROM intents WHERE sealed_at IS NOT NULL AND {holdable("created_at")}
      AND {holdable("sealed_at")}
    GROUP BY 1, 2
)
SELECT site_id, day, kind, n, last_at FROM counts
WHERE (%(site)s::text IS NULL OR site_id = %(site)s::text)
  AND (%(day)s::date IS NULL OR day = %(day)s::date)
"""

# The rows KPI_SQL leaves out for their timestamps, per table. Forged events are not among them:
# the stream rejects those as site_mismatch before it reads their time.
QUARANTINED_SQL = f"""
SELECT kind, count(*) FROM (
    SELECT 'sessions' AS kind, site_id FROM sessions WHERE NOT {holdable("started_at")}
    UNION ALL
    SELECT 'events', e.site_id FROM {_VERIFIED_EVENTS} WHERE NOT {holdable("e.created_at")}
    UNION ALL
    SELECT 'calls', site_id FROM calls WHERE NOT {holdable("created_at")}
    UNION ALL
    SELECT 'intents', site_id FROM intents
    WHERE NOT ({holdable("created_at")} AND {_holdable_or_null("sealed_at")})
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
        if kind == "events":
            # Read as UTC wall time: a timestamptz would be converted to the session's zone,
            # where year 1 can fall outside Python's range.
            entry["last_event_at"] = last_at.replace(tzinfo=UTC)
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
