"""Whether a chaos run lost or double counted anything: pure arithmetic on what was observed.

Three ledgers must agree, over everything written since the run began:

- the traffic generator's: the row changes each round committed for its own sites, and how many
  of them were forged (``events`` rows claiming a site other than their session's);
- ``supabase_changes``: every change the ingest (or a re-delivery) published, per partition, and
  the distinct changes (event ID and WAL position) per site;
- the worker's committed tally per source partition (``workers.stream.rules.accounting``), and what the
  dashboards were told: the KPI snapshots and the quarantined rows.

A change is **lost** when the generator committed it and the topic lacks it, when the topic holds
it and no committed tally counts it, when a forged row was never rejected, or when a KPI is lower
than SQL's. It is **double counted** when a tally counts more changes than the topic holds, gives
one change two outcomes, rejects one forged row twice, or a KPI is higher than SQL's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from schemas.updates import KpiSnapshot
from workers.stream.rules.accounting import Tally

COUNTED_KPIS: tuple[str, ...] = ("sessions", "events", "calls", "intents", "conversions")


@dataclass(frozen=True)
class Segment:
    """One round's traffic: its sites, and what the generator committed for them (``None`` when
    its summary is missing, e.g. the generator died)."""

    site_ids: tuple[str, ...]
    written: int | None
    forged: int | None


@dataclass(frozen=True)
class Observed:
    """What the run's readers saw on the topics: changes per partition of ``supabase_changes``,
    distinct changes per site, committed tallies per partition, and per site the times each
    event ID was rejected."""

    on_topic: Mapping[int, int]
    distinct_by_site: Mapping[str, int]
    tallies: Mapping[int, Tally]
    rejections_by_site: Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class Findings:
    lost: int = 0
    double_counted: int = 0
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.double_counted == 0

    def __add__(self, other: Findings) -> Findings:
        return Findings(
            self.lost + other.lost,
            self.double_counted + other.double_counted,
            self.reasons + other.reasons,
        )


def caught_up(on_topic: Mapping[int, int], tallies: Mapping[int, Tally]) -> bool:
    """Whether every partition's committed tally counts exactly the changes the topic holds."""
    partitions = set(on_topic) | set(tallies)
    return all(tallies.get(p, Tally()).consumed == on_topic.get(p, 0) for p in partitions)


def total_tally(tallies: Mapping[int, Tally]) -> Tally:
    total = Tally()
    for tally in tallies.values():
        total += tally
    return total


def tally_findings(on_topic: Mapping[int, int], tallies: Mapping[int, Tally]) -> Findings:
    """The worker's side: changes on the topic no tally counts, or counted beyond the topic, and
    changes given no outcome or two."""
    lost = double = 0
    reasons: list[str] = []
    for p in sorted(set(on_topic) | set(tallies)):
        tally = tallies.get(p, Tally())
        held = on_topic.get(p, 0)
        if tally.consumed < held:
            lost += held - tally.consumed
            reasons.append(f"partition {p}: {held} changes on the topic, {tally.consumed} counted")
        elif tally.consumed > held:
            double += tally.consumed - held
            reasons.append(f"partition {p}: {tally.consumed} changes counted, {held} on the topic")
        if tally.unaccounted > 0:
            lost += tally.unaccounted
            reasons.append(f"partition {p}: {tally.unaccounted} consumed changes had no outcome")
        elif tally.unaccounted < 0:
            double += -tally.unaccounted
            reasons.append(f"partition {p}: {-tally.unaccounted} outcomes counted twice")
    return Findings(lost, double, reasons)


def segment_findings(
    segment: Segment,
    distinct_by_site: Mapping[str, int],
    rejections_by_site: Mapping[str, Mapping[str, int]],
) -> Findings:
    """The ingest's side for one round's sites, and the forged rows, rejected one for one."""
    lost = double = 0
    reasons: list[str] = []
    sites = ", ".join(site[:8] for site in segment.site_ids)
    if segment.written is not None:
        published = _published(segment, distinct_by_site)
        if published < segment.written:
            lost += segment.written - published
            reasons.append(
                f"sites {sites}: {segment.written} changes committed, {published} published"
            )
    rejected = [
        times for site in segment.site_ids for times in rejections_by_site.get(site, {}).values()
    ]
    again = sum(times - 1 for times in rejected)
    if again:
        double += again
        reasons.append(f"sites {sites}: {again} rejections of a row already rejected")
    if segment.forged is not None and len(rejected) != segment.forged:
        if len(rejected) < segment.forged:
            lost += segment.forged - len(rejected)
        else:
            double += len(rejected) - segment.forged
        reasons.append(f"sites {sites}: {segment.forged} rows forged, {len(rejected)} rejected")
    return Findings(lost, double, reasons)


def kpi_findings(
    dashboard: Mapping[tuple[str, date], KpiSnapshot],
    sql: Mapping[tuple[str, date], KpiSnapshot],
) -> Findings:
    """The dashboards' side: each counted KPI below SQL's is that many changes lost, above it
    that many double counted."""
    lost = double = 0
    reasons: list[str] = []
    for key in sorted(set(dashboard) | set(sql)):
        told = dashboard.get(key) or KpiSnapshot(day=key[1])
        truth = sql.get(key) or KpiSnapshot(day=key[1])
        for kpi in COUNTED_KPIS:
            gap = int(getattr(truth, kpi)) - int(getattr(told, kpi))
            if gap:
                lost += max(gap, 0)
                double += max(-gap, 0)
                reasons.append(
                    f"{key[0][:8]} {key[1]} {kpi}: postgres {getattr(truth, kpi)}, "
                    f"dashboard {getattr(told, kpi)}"
                )
    return Findings(lost, double, reasons)


def run_findings(
    observed: Observed,
    segments: Sequence[Segment],
    dashboard: Mapping[tuple[str, date], KpiSnapshot],
    sql: Mapping[tuple[str, date], KpiSnapshot],
) -> Findings:
    """Everything lost or double counted since the run began."""
    findings = tally_findings(observed.on_topic, observed.tallies)
    for segment in segments:
        findings += segment_findings(
            segment, observed.distinct_by_site, observed.rejections_by_site
        )
    return findings + kpi_findings(dashboard, sql)


def difference(after: Tally, before: Tally) -> Tally:
    """What was counted between two readings of the same tallies."""
    return Tally(
        after.consumed - before.consumed,
        after.admitted - before.admitted,
        after.stale - before.stale,
        after.duplicates - before.duplicates,
        after.rejected - before.rejected,
    )


def published_all(segments: Sequence[Segment], distinct_by_site: Mapping[str, int]) -> bool:
    """Whether the topic holds at least every change each round's generator committed."""
    return all(
        _published(segment, distinct_by_site) >= segment.written
        for segment in segments
        if segment.written is not None
    )


def _published(segment: Segment, distinct_by_site: Mapping[str, int]) -> int:
    """The distinct changes the topic holds for the round's sites."""
    return sum(distinct_by_site.get(site, 0) for site in segment.site_ids)
