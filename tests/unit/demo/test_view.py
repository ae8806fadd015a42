"""What the demo's screen and summary show for a given dashboard state."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from rich.console import Console

from schemas.changes import RejectedRecord
from schemas.updates import KpiSnapshot, KpiUpdated, PulseStatus
from workers.demo.dashboard_state import DashboardState, apply_rejected, apply_update
from workers.demo.summary import AuditOutcome, DemoOutcome, render_summary
from workers.demo.view import Header, plain_status, render

SITE = "11111111-1111-4111-8111-111111111111"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DAY = NOW.date()


def text_of(renderable: object) -> str:
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def a_state() -> DashboardState:
    state = DashboardState(stale_after_s=10)
    state.site_names[SITE] = "site 0"
    apply_update(
        state,
        KpiUpdated(
            site_id=SITE,
            seq=1,
            event_ids=["e1", "e2"],
            commit_timestamp=NOW - timedelta(milliseconds=80),
            emitted_at=NOW,
            kpis=KpiSnapshot(
                day=DAY,
                sessions=4,
                events=17,
                calls=2,
                intents=5,
                conversions=2,
                conversion_rate=0.4,
                last_event_at=NOW - timedelta(seconds=3),
            ),
        ),
        now=100.0,
    )
    apply_rejected(state, RejectedRecord(reason="site_mismatch", detail="x", stage="stream"))
    return state


def test_the_screen_shows_cards_pulse_and_pipeline_figures() -> None:
    state = a_state()
    header = Header(phase="traffic", started_at=90.0, duration_s=60, sites=1, rate=200)
    shown = text_of(render(state, header, now=101.0, wall_now=NOW))
    assert "● LIVE" in shown
    assert "site 0 (11111111)" in shown
    for figure in ("sessions", "17", "conversions", "40.0%", "11:59:57"):
        assert figure in shown
    assert "site_mismatch 1" in shown
    assert "p50 80 ms" in shown
    assert "11s of 60s" in shown


def test_a_site_goes_offline_when_updates_stop_or_the_source_says_so() -> None:
    state = a_state()
    header = Header()
    assert "○ OFFLINE" in text_of(render(state, header, now=200.0, wall_now=NOW))
    apply_update(
        state,
        PulseStatus(site_id=SITE, seq=2, emitted_at=NOW, status="CLOSED", live=False, source="wal"),
        now=101.0,
    )
    assert "○ OFFLINE" in text_of(render(state, header, now=101.0, wall_now=NOW))


def test_plain_status_line_for_non_terminals() -> None:
    line = plain_status(a_state(), Header(phase="traffic", started_at=95.0), now=100.0)
    assert "1 sites (1 live)" in line
    assert "2 changes" in line
    assert "rejected 1" in line


def test_summary_reports_audit_and_cleanup() -> None:
    outcome = DemoOutcome(
        options_sites=1,
        options_rate=200,
        traffic_started=True,
        traffic={"site_ids": [SITE], "changes": 1200, "forged": 12, "seconds": 6.0},
        duplicates=60,
        dedup_hits=60,
        caught_up_s=1.5,
        catch_up_ran=True,
        state=a_state(),
        audit=AuditOutcome(ok=True, line="every site matches SQL"),
        stopped=[("worker", 12), ("postgres", 11)],
        removed=["/tmp/pulse-demo-x"],
    )
    shown = text_of(render_summary(outcome))
    assert (
        "1,200 row changes for 1 sites in 6.0 s (200/s), 12 events claiming the wrong site" in shown
    )
    assert "dropped 60 re-deliveries" in shown
    assert "every site matches SQL" in shown
    assert "the dashboard equalled SQL 1.5 s after the traffic ended" in shown
    assert "worker (pid 12), postgres (pid 11)" in shown
    assert "/tmp/pulse-demo-x" in shown
    assert "17" in shown and "40.0%" in shown


def test_audit_line_names_matching_and_differing_sites() -> None:
    from workers.demo.summary import audit_outcome
    from workers.tools.audit import AuditReport, KpiDifference
    from workers.tools.ledger import LedgerDifference

    passed = audit_outcome(AuditReport(compared=6, differences=[], rows_compared=40), 3, 0)
    assert passed.ok
    assert passed.line == (
        "every site matches SQL: 3 sites, 6 site-days, every KPI equal, 40 calls and intents equal"
    )
    failed = audit_outcome(
        AuditReport(
            compared=6,
            differences=[KpiDifference(SITE, NOW.date(), "events", 5, 4)],
            rows_compared=40,
            row_differences=[
                LedgerDifference(SITE, "calls", "c1", "status", "answered", "ringing")
            ],
        ),
        sites=3,
        invalid=2,
    )
    assert not failed.ok
    assert failed.line == (
        "1 of 3 sites differ from SQL: 1 KPI(s) in 6 site-days, 1 field(s) of 40 calls and intents"
    )
    assert failed.details[0] == f"{SITE} {NOW.date().isoformat()} events: postgres 5, kafka 4"
    assert failed.details[1] == f"{SITE} calls c1 status: postgres answered, kafka ringing"
    assert "2 record(s)" in failed.details[-1]
    only_rows = audit_outcome(
        AuditReport(
            compared=6,
            differences=[],
            rows_compared=40,
            row_differences=[LedgerDifference(SITE, "intents", "i1", "row", "present", "absent")],
        ),
        sites=3,
        invalid=0,
    )
    assert not only_rows.ok and only_rows.details == [
        f"{SITE} intents i1 row: postgres present, kafka absent"
    ]


def test_title_clock_counts_up_then_shows_how_long_traffic_ran() -> None:
    header = Header(phase="traffic", started_at=100.0, duration_s=45)
    assert "12s of 45s" in text_of(render(a_state(), header, now=112.0, wall_now=NOW))
    header.phase, header.traffic_ended_at = "caught up", 145.5
    shown = text_of(render(a_state(), header, now=160.0, wall_now=NOW))
    assert "caught up  traffic ran 46s" in shown
    assert "updates 1  last 60.0s ago" in shown
