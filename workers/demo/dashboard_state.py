"""What the demo's terminal dashboard knows, folded from ``dashboard_updates`` and the quarantine.

Pure: every function takes the current time as an argument, so the rules (which snapshot wins,
when a site counts as live, how throughput and latency are measured) are tested without a broker.

- A site's KPI card is the ``kpi_updated`` snapshot of its newest day with the highest ``seq``;
  re-delivered or older snapshots never overwrite a newer one.
- A site is LIVE while its latest ``pulse_status`` says live (or none came yet) and an update
  arrived within ``stale_after_s``; otherwise OFFLINE.
- End-to-end latency is ``emitted_at - commit_timestamp`` of each update that carries both: the
  time from the Postgres commit to the stream worker's publication.
- Throughput counts distinct change IDs seen in updates per second over a sliding window, so a
  change that produced several updates counts once.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from datetime import date, datetime

from schemas.changes import RejectedRecord
from schemas.updates import (
    DashboardUpdate,
    EventCreated,
    KpiSnapshot,
    KpiUpdated,
    PulseStatus,
)

THROUGHPUT_WINDOW_S = 5.0
LATENCY_WINDOW = 2000
SEEN_IDS_LIMIT = 200_000


@dataclass
class SiteView:
    site_id: str
    kpis: dict[date, KpiSnapshot] = field(default_factory=dict)
    kpi_seq: dict[date, int] = field(default_factory=dict)
    pulse_live: bool | None = None
    last_update_at: float | None = None
    last_event_at: datetime | None = None
    updates: int = 0

    def card(self, today: date) -> KpiSnapshot | None:
        """The KPI snapshot shown on the site's card: today's, else its newest day's.

        Today's is preferred because a conversion sealed after midnight gives a site a snapshot
        for a day that has only just started.
        """
        if today in self.kpis:
            return self.kpis[today]
        return self.kpis[max(self.kpis)] if self.kpis else None

    def is_live(self, now: float, stale_after_s: float) -> bool:
        if self.pulse_live is False or self.last_update_at is None:
            return False
        return now - self.last_update_at <= stale_after_s


@dataclass
class DashboardState:
    """Everything the live view draws, folded from the two topics."""

    stale_after_s: float = 15.0
    sites: dict[str, SiteView] = field(default_factory=dict)
    site_names: dict[str, str] = field(default_factory=dict)
    updates_total: int = 0
    undecodable_updates: int = 0
    changes_total: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    max_latency_ms: float = 0.0
    first_update_at: float | None = None
    last_update_at: float | None = None
    seen_ids: OrderedDict[str, None] = field(default_factory=OrderedDict)
    arrivals: deque[tuple[float, int]] = field(default_factory=deque)

    def site(self, site_id: str) -> SiteView:
        view = self.sites.get(site_id)
        if view is None:
            view = self.sites[site_id] = SiteView(site_id)
        return view

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected_by_reason.values())


def apply_update(state: DashboardState, update: DashboardUpdate, now: float) -> None:
    """Fold one record of ``dashboard_updates`` received at ``now`` (monotonic seconds)."""
    state.updates_total += 1
    if state.first_update_at is None:
        state.first_update_at = now
    state.last_update_at = now
    site = state.site(update.site_id)
    site.updates += 1
    site.last_update_at = now
    _count_new_changes(state, update.event_ids, now)
    if update.commit_timestamp is not None:
        latency = (update.emitted_at - update.commit_timestamp).total_seconds() * 1000
        state.latencies_ms.append(latency)
        state.max_latency_ms = max(state.max_latency_ms, latency)

    if isinstance(update, KpiUpdated):
        _apply_kpis(site, update)
    elif isinstance(update, PulseStatus):
        site.pulse_live = update.live
    elif isinstance(update, EventCreated):
        created = update.event.created_at
        if site.last_event_at is None or created > site.last_event_at:
            site.last_event_at = created


def _apply_kpis(site: SiteView, update: KpiUpdated) -> None:
    day = update.kpis.day
    if update.seq < site.kpi_seq.get(day, -1):
        return
    site.kpi_seq[day] = update.seq
    site.kpis[day] = update.kpis
    last = update.kpis.last_event_at
    if last is not None and (site.last_event_at is None or last > site.last_event_at):
        site.last_event_at = last


def _count_new_changes(state: DashboardState, event_ids: list[str], now: float) -> None:
    fresh = 0
    for event_id in event_ids:
        if event_id in state.seen_ids:
            continue
        state.seen_ids[event_id] = None
        fresh += 1
    while len(state.seen_ids) > SEEN_IDS_LIMIT:
        state.seen_ids.popitem(last=False)
    if fresh:
        state.changes_total += fresh
        state.arrivals.append((now, fresh))


def apply_rejected(state: DashboardState, rejected: RejectedRecord) -> None:
    state.rejected_by_reason[rejected.reason] += 1


def note_undecodable_update(state: DashboardState) -> None:
    state.undecodable_updates += 1


def throughput(state: DashboardState, now: float, window_s: float = THROUGHPUT_WINDOW_S) -> float:
    """Distinct changes per second seen in updates over the last ``window_s`` seconds."""
    horizon = now - window_s
    while state.arrivals and state.arrivals[0][0] < horizon:
        state.arrivals.popleft()
    return sum(count for _at, count in state.arrivals) / window_s


def latency_percentile(state: DashboardState, fraction: float) -> float | None:
    """The ``fraction`` percentile (nearest rank) of the recent end-to-end latencies, in ms."""
    if not state.latencies_ms:
        return None
    ordered = sorted(state.latencies_ms)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return ordered[rank]


def site_kpis(state: DashboardState) -> dict[tuple[str, date], KpiSnapshot]:
    """Every KPI snapshot the dashboard holds, keyed like ``recompute_kpis``' result."""
    return {
        (site_id, day): snapshot
        for site_id, view in state.sites.items()
        for day, snapshot in view.kpis.items()
    }
