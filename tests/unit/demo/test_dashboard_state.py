"""Folding dashboard updates and quarantine records into what the demo's screen shows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from schemas.changes import RejectedRecord
from schemas.updates import (
    EventCreated,
    EventView,
    KpiSnapshot,
    KpiUpdated,
    PulseStatus,
)
from workers.demo.dashboard_state import (
    DashboardState,
    apply_rejected,
    apply_update,
    latency_percentile,
    site_kpis,
    throughput,
)

SITE = "11111111-1111-4111-8111-111111111111"
OTHER = "22222222-2222-4222-8222-222222222222"
DAY = date(2026, 11, 23)
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def kpi(
    seq: int, events: int, *, site: str = SITE, day: date = DAY, ids: list[str] | None = None
) -> KpiUpdated:
    return KpiUpdated(
        site_id=site,
        seq=seq,
        event_ids=ids or [],
        commit_timestamp=T0,
        emitted_at=T0 + timedelta(milliseconds=40),
        kpis=KpiSnapshot(day=day, events=events, sessions=1),
    )


def event(seq: int, event_id: str, created: datetime) -> EventCreated:
    return EventCreated(
        site_id=SITE,
        seq=seq,
        event_ids=[event_id],
        commit_timestamp=created,
        emitted_at=created + timedelta(milliseconds=100),
        event=EventView(id=event_id, session_id="s1", name="click", created_at=created),
    )


def test_newer_snapshot_wins_and_a_redelivered_older_one_is_ignored() -> None:
    state = DashboardState()
    apply_update(state, kpi(10, events=5), now=1.0)
    apply_update(state, kpi(12, events=7), now=2.0)
    apply_update(state, kpi(11, events=6), now=3.0)
    assert state.sites[SITE].card(DAY) == KpiSnapshot(day=DAY, events=7, sessions=1)
    assert state.updates_total == 3


def test_card_prefers_today_over_a_later_day() -> None:
    state = DashboardState()
    apply_update(state, kpi(1, events=5), now=1.0)
    apply_update(state, kpi(2, events=0, day=DAY + timedelta(days=1)), now=1.0)
    site = state.sites[SITE]
    assert site.card(DAY) is not None and site.card(DAY).events == 5  # type: ignore[union-attr]
    assert site.card(DAY - timedelta(days=5)) == site.kpis[DAY + timedelta(days=1)]
    assert set(site_kpis(state)) == {(SITE, DAY), (SITE, DAY + timedelta(days=1))}


def test_pulse_is_live_only_with_recent_updates_and_no_offline_status() -> None:
    state = DashboardState(stale_after_s=10)
    apply_update(state, kpi(1, events=1), now=100.0)
    site = state.sites[SITE]
    assert site.is_live(105.0, state.stale_after_s)
    assert not site.is_live(111.0, state.stale_after_s)
    apply_update(
        state,
        PulseStatus(site_id=SITE, seq=2, emitted_at=T0, status="OFFLINE", live=False, source="wal"),
        now=106.0,
    )
    assert not site.is_live(106.0, state.stale_after_s)
    apply_update(
        state,
        PulseStatus(site_id=SITE, seq=3, emitted_at=T0, status="LIVE", live=True, source="wal"),
        now=107.0,
    )
    assert site.is_live(107.0, state.stale_after_s)


def test_last_event_time_follows_event_updates_and_snapshots() -> None:
    state = DashboardState()
    apply_update(state, event(1, "e1", T0), now=1.0)
    apply_update(state, event(2, "e2", T0 - timedelta(minutes=5)), now=1.0)
    site = state.sites[SITE]
    assert site.last_event_at == T0
    later = KpiUpdated(
        site_id=SITE,
        seq=3,
        emitted_at=T0,
        kpis=KpiSnapshot(day=DAY, events=3, last_event_at=T0 + timedelta(minutes=1)),
    )
    apply_update(state, later, now=2.0)
    assert site.last_event_at == T0 + timedelta(minutes=1)


def test_throughput_counts_each_change_once_within_the_window() -> None:
    state = DashboardState()
    apply_update(state, event(1, "a", T0), now=10.0)
    apply_update(state, kpi(2, events=1, ids=["a", "b"]), now=11.0)
    apply_update(state, kpi(3, events=1, ids=["b"]), now=12.0)
    assert state.changes_total == 2
    assert throughput(state, now=12.0, window_s=5.0) == 2 / 5
    assert throughput(state, now=15.5, window_s=5.0) == 1 / 5
    assert throughput(state, now=30.0, window_s=5.0) == 0.0


def test_latency_is_emit_minus_commit() -> None:
    state = DashboardState()
    apply_update(state, event(1, "a", T0), now=1.0)
    apply_update(state, kpi(2, events=1), now=1.0)
    apply_update(
        state,
        PulseStatus(site_id=SITE, seq=3, emitted_at=T0, status="LIVE", live=True, source="wal"),
        now=1.0,
    )
    assert sorted(state.latencies_ms) == [40.0, 100.0]
    assert latency_percentile(state, 0.5) == 40.0
    assert latency_percentile(state, 0.95) == 100.0
    assert state.max_latency_ms == 100.0
    assert latency_percentile(DashboardState(), 0.5) is None


def test_rejections_are_counted_by_reason() -> None:
    state = DashboardState()
    for reason, stage in (
        ("site_mismatch", "stream"),
        ("site_mismatch", "stream"),
        ("no_site", "ingest"),
    ):
        apply_rejected(state, RejectedRecord(reason=reason, detail="x", stage=stage, site_id=OTHER))  # type: ignore[arg-type]
    assert state.rejected_by_reason == {"site_mismatch": 2, "no_site": 1}
    assert state.rejected_total == 3
