"""When the demo's dashboard has caught up with Postgres: its KPI cards equal the SQL figures.

After the traffic stops, the WAL still holds changes the ingest has not read and the stream worker
has not processed. The end offsets of this broker cannot tell when that backlog is gone (they are
under-reported), so the demo compares what matters instead: every (site, day) snapshot the
dashboard holds against ``recompute_kpis``.
"""

from __future__ import annotations

from datetime import date

from schemas.updates import KpiSnapshot


def differing_site_days(
    dashboard: dict[tuple[str, date], KpiSnapshot], sql: dict[tuple[str, date], KpiSnapshot]
) -> list[tuple[str, date]]:
    """The (site, day) pairs whose figures differ, missing on either side included, sorted."""
    keys = set(dashboard) | set(sql)
    return sorted(key for key in keys if _figures(dashboard.get(key)) != _figures(sql.get(key)))


def _figures(snapshot: KpiSnapshot | None) -> tuple[object, ...] | None:
    """A snapshot with nothing counted equals no snapshot at all."""
    if snapshot is None:
        return None
    figures = (
        snapshot.sessions,
        snapshot.events,
        snapshot.calls,
        snapshot.intents,
        snapshot.conversions,
        snapshot.conversion_rate,
        snapshot.last_event_at,
    )
    if not any(figures):
        return None
    return figures
