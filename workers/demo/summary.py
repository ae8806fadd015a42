"""The demo's final summary: what was written, what the pipeline made of it, the audit, the cleanup."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from workers.demo.dashboard_state import DashboardState, latency_percentile
from workers.demo.view import site_label

if TYPE_CHECKING:
    from workers.tools.audit import AuditReport


@dataclass(frozen=True)
class AuditOutcome:
    ok: bool
    line: str
    details: list[str] = field(default_factory=list)


MAX_AUDIT_DETAILS = 10


def audit_outcome(report: AuditReport, sites: int, invalid: int) -> AuditOutcome:
    """The summary's audit line: every site matches, or which KPIs and rows of which sites differ."""
    warning = (
        [f"{invalid} record(s) on dashboard_updates were not valid updates"] if invalid else []
    )
    if report.ok:
        return AuditOutcome(
            ok=True,
            line=f"every site matches SQL: {sites} sites, {report.compared} site-days, "
            f"every KPI equal, {report.rows_compared} calls and intents equal",
            details=warning,
        )
    from workers.tools.audit import ledger_lines, rows

    details = [
        f"{site} {day} {kpi}: postgres {expected}, kafka {actual}"
        for site, day, kpi, expected, actual in rows(report)
    ]
    details += [
        f"{site} {table} {row_id} {column}: postgres {expected}, kafka {actual}"
        for site, table, row_id, column, expected, actual in ledger_lines(report)
    ]
    if len(details) > MAX_AUDIT_DETAILS:
        details[MAX_AUDIT_DETAILS:] = [
            f"… {len(details) - MAX_AUDIT_DETAILS} more (pulse audit lists all)"
        ]
    return AuditOutcome(
        ok=False,
        line=f"{len(report.sites_differing)} of {sites} sites differ from SQL: "
        f"{len(report.differences)} KPI(s) in {report.compared} site-days, "
        f"{len(report.row_differences)} field(s) of {report.rows_compared} calls and intents",
        details=details + warning,
    )


@dataclass
class DemoOutcome:
    options_sites: int
    options_rate: float
    traffic_started: bool = False
    traffic: dict[str, Any] | None = None
    duplicates: int | None = None
    dedup_hits: int | None = None
    caught_up_s: float | None = None
    catch_up_ran: bool = False
    state: DashboardState | None = None
    audit: AuditOutcome | None = None
    interrupted: bool = False
    failure: str | None = None
    stopped: list[tuple[str, int | None]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _traffic_line(outcome: DemoOutcome) -> str:
    traffic = outcome.traffic
    if not outcome.traffic_started:
        return "not started"
    if traffic is None:
        return "stopped before the generator finished (counts below come from the pipeline)"
    seconds = float(traffic.get("seconds", 0.0))
    changes = int(traffic.get("changes", 0))
    rate = changes / seconds if seconds > 0 else 0.0
    return (
        f"{changes:,} row changes for {len(traffic.get('site_ids', []))} sites in {seconds:.1f} s "
        f"({rate:,.0f}/s), {int(traffic.get('forged', 0)):,} events claiming the wrong site"
    )


def _duplicates_line(outcome: DemoOutcome) -> str:
    if outcome.duplicates is None:
        return "none injected"
    line = f"{outcome.duplicates:,} changes published again on supabase_changes"
    if outcome.dedup_hits is not None:
        line += f"; the stream worker dropped {outcome.dedup_hits:,} re-deliveries"
    return line


def _pipeline_line(state: DashboardState) -> str:
    return (
        f"{state.changes_total:,} changes reached the dashboard in {state.updates_total:,} "
        f"updates; commit → update p50 {_ms(latency_percentile(state, 0.5))}, "
        f"p95 {_ms(latency_percentile(state, 0.95))}, max {_ms(state.max_latency_ms or None)}"
    )


def _sites_table(state: DashboardState) -> Table:
    today = datetime.now(UTC).date()
    table = Table(
        title=f"KPIs per site on {today.isoformat()} (UTC; else the site's newest day)",
        title_justify="left",
    )
    for column in ("site", "sessions", "events", "calls", "intents", "conversions", "rate"):
        table.add_column(column, justify="left" if column == "site" else "right", no_wrap=True)
    table.add_column("last event")
    for site_id in sorted(state.sites, key=lambda s: site_label(state, s)):
        card = state.sites[site_id].card(today)
        if card is None:
            continue
        table.add_row(
            site_label(state, site_id),
            f"{card.sessions:,}",
            f"{card.events:,}",
            f"{card.calls:,}",
            f"{card.intents:,}",
            f"{card.conversions:,}",
            f"{card.conversion_rate:.1%}",
            f"{card.last_event_at:%H:%M:%S}" if card.last_event_at else "-",
        )
    return table


def render_summary(outcome: DemoOutcome) -> RenderableType:
    rows = Table.grid(padding=(0, 2))
    rows.add_column(style="bold")
    rows.add_column()
    rows.add_row("traffic", _traffic_line(outcome))
    rows.add_row("duplicates", _duplicates_line(outcome))
    state = outcome.state
    parts: list[RenderableType] = [Rule("Realtime Pulse demo: summary", align="left"), rows]
    if state is not None:
        rows.add_row("pipeline", _pipeline_line(state))
        rejected = ", ".join(f"{k} {v:,}" for k, v in sorted(state.rejected_by_reason.items()))
        rows.add_row("rejected", rejected or "none")
        if outcome.catch_up_ran:
            rows.add_row(
                "caught up",
                "the dashboard did not equal SQL in time"
                if outcome.caught_up_s is None
                else f"the dashboard equalled SQL {outcome.caught_up_s:.1f} s after the traffic "
                "ended",
            )
        parts.append(_sites_table(state))
    audit = Table.grid(padding=(0, 2))
    audit.add_column(style="bold")
    audit.add_column()
    if outcome.audit is not None:
        style = "green" if outcome.audit.ok else "red"
        audit.add_row("audit", Text(outcome.audit.line, style=style))
        for detail in outcome.audit.details:
            audit.add_row("", detail)
    if outcome.failure is not None:
        audit.add_row("failed", Text(outcome.failure.splitlines()[0], style="red"))
    if outcome.interrupted:
        audit.add_row("interrupted", "quit before the end")
    audit.add_row(
        "stopped",
        ", ".join(f"{what} (pid {pid})" for what, pid in outcome.stopped) or "nothing was running",
    )
    audit.add_row("removed", ", ".join(outcome.removed) or "nothing")
    parts.append(audit)
    return Group(*parts)
