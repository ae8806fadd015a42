"""The demo's terminal dashboard: rich renderables drawn from a ``DashboardState``.

Records are folded into the state as they arrive; the screen is redrawn from it on a timer
(``REFRESH_PER_SECOND``), never per record, so a burst of updates costs no extra drawing. When
the output is not a terminal (CI, a pipe) a one-line status is printed every few seconds instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rich.columns import Columns
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from workers.demo.dashboard_state import (
    DashboardState,
    SiteView,
    latency_percentile,
    throughput,
)

REFRESH_PER_SECOND = 4
PLAIN_STATUS_INTERVAL_S = 5.0
CARD_WIDTH = 38


@dataclass
class Header:
    """What the demo tells the view besides the topics: phase, clock, duplicate counters."""

    phase: str = "starting"
    started_at: float = field(default_factory=time.monotonic)
    duration_s: float | None = None
    sites: int = 0
    rate: float = 0.0
    duplicates: dict[str, int] = field(default_factory=dict)
    traffic_ended_at: float | None = None


def _clock(moment: datetime | None) -> str:
    return "none yet" if moment is None else f"{moment:%H:%M:%S} UTC"


def _since(site: SiteView, now: float) -> str:
    if site.last_update_at is None:
        return "never"
    return f"{max(0.0, now - site.last_update_at):.1f}s ago"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def site_label(state: DashboardState, site_id: str) -> str:
    name = state.site_names.get(site_id)
    return f"{name} ({site_id[:8]})" if name else site_id[:8]


def site_card(state: DashboardState, site: SiteView, now: float, wall_now: datetime) -> Panel:
    live = site.is_live(now, state.stale_after_s)
    pulse = Text("● LIVE", style="bold green") if live else Text("○ OFFLINE", style="bold red")
    card = site.card(wall_now.date())
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim")
    grid.add_column(justify="right")
    grid.add_column(style="dim")
    grid.add_column(justify="right")
    if card is None:
        grid.add_row("KPIs", "waiting", "", "")
    else:
        grid.add_row("sessions", f"{card.sessions:,}", "calls", f"{card.calls:,}")
        grid.add_row("events", f"{card.events:,}", "intents", f"{card.intents:,}")
        grid.add_row(
            "conversions", f"{card.conversions:,}", "conv. rate", f"{card.conversion_rate:.1%}"
        )
    body = Group(
        grid,
        Text.assemble(("last event ", "dim"), _clock(site.last_event_at)),
        Text.assemble(
            ("updates ", "dim"), f"{site.updates:,}", ("  last ", "dim"), _since(site, now)
        ),
    )
    title = Text.assemble(pulse, " ", site_label(state, site.site_id))
    return Panel(body, title=title, title_align="left", border_style="green" if live else "red")


def pipeline_panel(state: DashboardState, header: Header, now: float) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    elapsed = now - state.first_update_at if state.first_update_at is not None else 0.0
    overall = state.changes_total / elapsed if elapsed > 0 else 0.0
    table.add_row(
        "throughput",
        f"{throughput(state, now):,.0f} changes/s now, {overall:,.0f}/s overall, "
        f"{state.changes_total:,} changes in {state.updates_total:,} updates",
    )
    table.add_row(
        "commit → update",
        f"p50 {_ms(latency_percentile(state, 0.5))}, p95 {_ms(latency_percentile(state, 0.95))}, "
        f"max {_ms(state.max_latency_ms if state.latencies_ms else None)}",
    )
    rejected = ", ".join(
        f"{reason} {count:,}" for reason, count in sorted(state.rejected_by_reason.items())
    )
    table.add_row("rejected", rejected or "none")
    if header.duplicates:
        table.add_row(
            "duplicates", ", ".join(f"{key} {value:,}" for key, value in header.duplicates.items())
        )
    if state.undecodable_updates:
        table.add_row("undecodable updates", f"{state.undecodable_updates:,}")
    return Panel(table, title="pipeline", title_align="left")


def title_line(header: Header, now: float) -> Text:
    elapsed = now - header.started_at
    if header.traffic_ended_at is not None:
        clock = f"traffic ran {header.traffic_ended_at - header.started_at:.0f}s"
    elif header.duration_s is not None:
        clock = f"{elapsed:.0f}s of {header.duration_s:.0f}s"
    else:
        clock = f"{elapsed:.0f}s"
    hint = "Ctrl-C to stop" if header.traffic_ended_at is None else ""
    return Text.assemble(
        ("Realtime Pulse demo", "bold"),
        f"  {header.phase}  {clock}  ·  {header.sites} sites at {header.rate:g} rows/s  ",
        (hint, "dim"),
    )


def render(state: DashboardState, header: Header, now: float, wall_now: datetime) -> RenderableType:
    cards = [
        site_card(state, state.sites[site_id], now, wall_now)
        for site_id in sorted(state.sites, key=lambda s: site_label(state, s))
    ]
    return Group(
        title_line(header, now),
        Columns(cards, width=CARD_WIDTH)
        if cards
        else Text("waiting for the first update…", style="dim"),
        pipeline_panel(state, header, now),
    )


def plain_status(state: DashboardState, header: Header, now: float) -> str:
    live = sum(1 for site in state.sites.values() if site.is_live(now, state.stale_after_s))
    return (
        f"[{now - header.started_at:5.0f}s] {header.phase}: {len(state.sites)} sites "
        f"({live} live), {state.changes_total:,} changes, {state.updates_total:,} updates, "
        f"{throughput(state, now):,.0f} changes/s, p95 {_ms(latency_percentile(state, 0.95))}, "
        f"rejected {state.rejected_total:,}"
    )


async def run_view(
    console: Console,
    state: DashboardState,
    header: Header,
    stop: asyncio.Event,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Draw until ``stop`` is set: a live screen on a terminal, periodic lines otherwise."""

    def frame() -> RenderableType:
        return render(state, header, clock(), datetime.now(UTC))

    if not console.is_terminal:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), PLAIN_STATUS_INTERVAL_S)
            except TimeoutError:
                console.print(plain_status(state, header, clock()), highlight=False)
        return
    with Live(frame(), console=console, auto_refresh=False, transient=False) as live:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1 / REFRESH_PER_SECOND)
            live.update(frame(), refresh=True)
