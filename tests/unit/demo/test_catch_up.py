"""Deciding that the dashboard has caught up: its KPI snapshots equal the SQL figures."""

from __future__ import annotations

from datetime import UTC, date, datetime

from schemas.updates import KpiSnapshot
from workers.demo.catch_up import differing_site_days

DAY = date(2026, 11, 23)
A, B = "site-a", "site-b"


def snap(**figures: object) -> KpiSnapshot:
    return KpiSnapshot.model_validate({"day": DAY, **figures})


def test_equal_figures_mean_caught_up() -> None:
    last = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    both = {(A, DAY): snap(events=3, last_event_at=last), (B, DAY): snap(sessions=1)}
    assert differing_site_days(dict(both), dict(both)) == []


def test_a_differing_figure_or_a_missing_site_day_is_reported() -> None:
    sql = {(A, DAY): snap(events=3), (B, DAY): snap(sessions=2)}
    dashboard = {(A, DAY): snap(events=2)}
    assert differing_site_days(dashboard, sql) == [(A, DAY), (B, DAY)]


def test_an_all_zero_snapshot_equals_no_snapshot() -> None:
    assert differing_site_days({(A, DAY): snap()}, {}) == []
    assert differing_site_days({}, {(A, DAY): snap(conversions=1)}) == [(A, DAY)]
