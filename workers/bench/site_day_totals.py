"""Per-site-per-day KPI totals as the worker and the peer published them, and where they differ.

The worker publishes a ``kpi_updated`` per site and day per batch; the latest (highest per-site
``seq``) holds the final totals. The peer publishes one record per applied change with the
totals of the days that change moved; the last such record of a site-day (records of a site
share a partition, read in order) holds its final totals.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from workers.stream.rules.kpis import KINDS

SiteDay = tuple[str, str]
Totals = tuple[int, ...]  # in the order of ``kpis.KINDS``
ZERO: Totals = (0,) * len(KINDS)
# Only updates holding this are decoded: most of the worker's updates are of other types.
KPI_UPDATED = b'"kpi_updated"'


def worker_totals(values: Iterable[bytes]) -> dict[SiteDay, Totals]:
    """The totals of each site-day's latest ``kpi_updated`` among the updates ``values``."""
    latest: dict[SiteDay, tuple[int, Totals]] = {}
    for value in values:
        if KPI_UPDATED not in value:
            continue
        update = orjson.loads(value)
        if update.get("type") != "kpi_updated":
            continue
        kpis = update["kpis"]
        key = (update["site_id"], kpis["day"])
        seq = int(update["seq"])
        current = latest.get(key)
        if current is None or seq >= current[0]:
            latest[key] = (seq, tuple(int(kpis[kind]) for kind in KINDS))
    return {key: totals for key, (_seq, totals) in latest.items()}


def peer_totals(values: Iterable[bytes]) -> dict[SiteDay, Totals]:
    """The totals of each site-day's last peer record, ``values`` in their partitions' order."""
    totals: dict[SiteDay, Totals] = {}
    for value in values:
        record = orjson.loads(value)
        site = record["site_id"]
        for day, counts in record["days"].items():
            totals[(site, day)] = tuple(int(count) for count in counts)
    return totals


def differences(worker: dict[SiteDay, Totals], peer: dict[SiteDay, Totals]) -> list[str]:
    """Each site-day whose totals differ, worker first; a site-day one side never published
    counts as all zeros there, as the day of a site whose rows were all deleted does."""
    found = []
    for key in sorted(worker.keys() | peer.keys()):
        left, right = worker.get(key, ZERO), peer.get(key, ZERO)
        if left != right:
            site, day = key
            found.append(f"{site} {day}: worker {_shown(left)}, peer {_shown(right)}")
    return found


def _shown(totals: Totals) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in zip(KINDS, totals, strict=True))
