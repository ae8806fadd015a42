"""The KPIs recomputed from Postgres with SQL: the source of truth the stream must equal.

Per site and UTC day:
- sessions: sessions whose ``started_at`` falls on the day;
- events: verified events (their session exists and belongs to the site the row claims) created
  on the day; forged rows never count;
- calls, intents: rows created on the day, in their latest state (deleted rows do not count);
- conversions: intents whose ``sealed_at`` falls on the day;
- conversion_rate: conversions / intents of the day (0 when there are no intents), 4 decimals;
- last_event_at: the newest verified event's ``created_at`` on the day.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg

from schemas.updates import KpiSnapshot

KPI_SQL = """
WITH counts AS (
    SELECT site_id::text AS site_id, (started_at AT TIME ZONE 'UTC')::date AS day,
           'sessions' AS kind, count(*) AS n, NULL::timestamptz AS last_at
    FROM sessions GROUP BY 1, 2
    UNION ALL
    SELECT e.site_id::text, (e.created_at AT TIME ZONE 'UTC')::date,
           'events', count(*), max(e.created_at)
    FROM events e JOIN sessions s ON s.id = e.session_id AND s.site_id = e.site_id
    GROUP BY 1, 2
    UNION ALL
    SELECT site_id::text, (created_at AT TIME ZONE 'UTC')::date, 'calls', count(*), NULL
    FROM calls GROUP BY 1, 2
    UNION ALL
    SELECT site_id::text, (created_at AT TIME ZONE 'UTC')::date, 'intents', count(*), NULL
    FROM intents GROUP BY 1, 2
    UNION ALL
    SELECT site_id::text, (sealed_at AT TIME ZONE 'UTC')::date, 'conversions', count(*), NULL
    FROM intents WHERE sealed_at IS NOT NULL GROUP BY 1, 2
)
SELECT site_id, day, kind, n, last_at FROM counts
WHERE (%(site)s::text IS NULL OR site_id = %(site)s::text)
  AND (%(day)s::date IS NULL OR day = %(day)s::date)
"""


def conversion_rate(conversions: int, intents: int) -> float:
    return round(conversions / intents, 4) if intents else 0.0


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
            entry["last_event_at"] = last_at
    result: dict[tuple[str, date], KpiSnapshot] = {}
    for key, entry in figures.items():
        entry["conversion_rate"] = conversion_rate(
            entry.get("conversions", 0), entry.get("intents", 0)
        )
        result[key] = KpiSnapshot.model_validate(entry)
    return result
