"""The audit's pure part: which snapshot is the latest, and what differs."""

from __future__ import annotations

from datetime import UTC, date, datetime

from schemas.updates import KpiSnapshot
from tests.unit.tools.updates import kpi_update
from workers.tools.audit import MISSING, Published, compare, keep_latest, narrowed

DAY = date(2026, 11, 23)


def test_latest_is_the_highest_seq_then_the_later_offset() -> None:
    latest: dict[tuple[str, date], Published] = {}
    keep_latest(latest, kpi_update("a", 5, DAY, events=5), offset=10)
    keep_latest(latest, kpi_update("a", 3, DAY, events=3), offset=11)  # an older one, re-sent
    assert latest[("a", DAY)].kpis.events == 5
    keep_latest(latest, kpi_update("a", 5, DAY, events=6), offset=12)  # same seq, later offset
    assert latest[("a", DAY)].kpis.events == 6
    keep_latest(latest, kpi_update("a", 9, date(2026, 11, 24), events=1), offset=13)
    assert latest[("a", DAY)].kpis.events == 6 and len(latest) == 2


def test_equal_snapshots_have_no_differences() -> None:
    at = datetime(2026, 11, 23, 10, tzinfo=UTC)
    snapshot = KpiSnapshot(
        day=DAY,
        sessions=2,
        events=3,
        intents=3,
        conversions=1,
        conversion_rate=0.3333,
        last_event_at=at,
    )
    assert compare({("a", DAY): snapshot}, {("a", DAY): snapshot.model_copy()}) == []


def test_each_differing_kpi_is_named() -> None:
    expected = {("a", DAY): KpiSnapshot(day=DAY, events=7, conversions=2, conversion_rate=0.5)}
    actual = {("a", DAY): KpiSnapshot(day=DAY, events=6, conversions=2, conversion_rate=0.5)}
    [difference] = compare(expected, actual)
    assert (difference.site_id, difference.day, difference.kpi) == ("a", DAY, "events")
    assert (difference.expected, difference.actual) == (7, 6)


def test_a_missing_snapshot_and_a_zero_one() -> None:
    expected = {("a", DAY): KpiSnapshot(day=DAY, sessions=1)}
    # Kafka says nothing about site a, and an all-zero day for site b that SQL has no rows for.
    actual = {("b", DAY): KpiSnapshot(day=DAY)}
    assert [(d.site_id, d.kpi) for d in compare(expected, actual)] == [("a", MISSING)]
    stale = {("b", DAY): KpiSnapshot(day=DAY, calls=1)}
    assert [(d.site_id, d.kpi, d.expected, d.actual) for d in compare({}, stale)] == [
        ("b", "calls", 0, 1)
    ]


def test_narrowed_to_a_site_and_day() -> None:
    latest = {
        ("a", DAY): Published(1, 0, KpiSnapshot(day=DAY)),
        ("b", DAY): Published(1, 1, KpiSnapshot(day=DAY)),
        ("a", date(2026, 11, 22)): Published(1, 2, KpiSnapshot(day=date(2026, 11, 22))),
    }
    assert set(narrowed(latest, "a", None)) == {("a", DAY), ("a", date(2026, 11, 22))}
    assert set(narrowed(latest, None, DAY)) == {("a", DAY), ("b", DAY)}
