"""Per-site sequence numbers that only grow, across restarts and partition moves.

The number is the larger of the site's previous number + 1 and the wall clock in microseconds.
Nothing has to be persisted: after a crash the clock has moved past every number handed out
before (at most a million updates per second per site), and a partition that moves to another
worker keeps growing as long as the workers' clocks agree to better than the rebalance takes.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class SiteSequencer:
    def __init__(self, clock_us: Callable[[], int] | None = None) -> None:
        self._last: dict[str, int] = {}
        self._clock_us = clock_us or (lambda: time.time_ns() // 1000)

    def next(self, site_id: str) -> int:
        return self.take(site_id, 1)

    def take(self, site_id: str, count: int) -> int:
        """The first of ``count`` consecutive numbers for the site, on one reading of the clock."""
        first = max(self._last.get(site_id, 0) + 1, self._clock_us())
        self._last[site_id] = first + count - 1
        return first
