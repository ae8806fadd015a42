"""How long the dashboard sees no updates while a second worker joins the group: the longest gap
between the arrivals of consecutive updates in a window around the join."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass


def longest_gap(arrivals: Iterable[float], since: float, until: float) -> float:
    """The longest time in ``[since, until]`` without an arrival; the window's edges count as
    arrivals, so silence from ``since`` on (or up to ``until``) is a gap too."""
    inside = sorted(moment for moment in arrivals if since <= moment <= until)
    edges = [since, *inside, until]
    return max(later - earlier for earlier, later in itertools.pairwise(edges))


@dataclass(frozen=True)
class JoinPause:
    overall_s: float  # no update on any partition
    worst_partition_s: float  # the longest gap of a single partition of the updates topic
    worst_partition: int


def join_pause(
    arrivals: Iterable[tuple[int, float]], partitions: Iterable[int], since: float, until: float
) -> JoinPause:
    """Gaps of ``(partition, arrival time)`` pairs overall and per partition of ``partitions``,
    in ``[since, until]``; a partition that received nothing has the whole window as its gap."""
    by_partition: dict[int, list[float]] = {partition: [] for partition in partitions}
    for partition, moment in arrivals:
        by_partition.setdefault(partition, []).append(moment)
    overall = longest_gap(
        (moment for moments in by_partition.values() for moment in moments), since, until
    )
    gaps = {p: longest_gap(moments, since, until) for p, moments in by_partition.items()}
    worst = max(gaps, key=lambda p: gaps[p], default=-1)
    return JoinPause(overall, gaps.get(worst, overall), worst)
